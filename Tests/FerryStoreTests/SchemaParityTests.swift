import FerryCore
import FerryPostgres
import FerryTesting
import Foundation
import GRDB
import Testing

@testable import FerryStore

/// The lifecycle specification (``JobLifecycle``), the SQLite schema and the PostgreSQL schema
/// allow the same moves: the two databases' transition tables, which their guards consult on every
/// change of state, are each exactly the specification; and PostgreSQL's guards refuse what
/// SQLite's refuse when raw SQL tries it, as a script or a person with psql would.
@Suite("The specification and both schemas agree")
struct SchemaParityTests {
    static var specification: Set<String> {
        Set(
            JobKind.allCases.flatMap { kind in
                JobLifecycle.of(kind).transitions.map { "\(kind) \($0.from) \($0.command) \($0.to)" }
            })
    }

    /// A migrated PostgreSQL database; returns its name.
    static func postgresDatabase() async throws -> (server: PostgresTestServer, database: String) {
        let server = try await PostgresTestServer.shared()
        let url = try await server.makeDatabase()
        let store = try await PostgresJobStore.open(.patient(url))
        try await store.migrate()
        store.close()
        return (server, String(url.split(separator: "/").last!.split(separator: "?")[0]))
    }

    @Test("Both transition tables are exactly the lifecycles of FerryCore")
    func transitionTables() async throws {
        let sqlite = try StoreFixture()
        let sqliteRows = try sqlite.store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT kind, from_state, cause, to_state FROM job_transitions")
        }
        let sqliteMoves = Set(
            sqliteRows.map { "\($0[0] as String) \($0[1] as String) \($0[2] as String) \($0[3] as String)" })
        let (server, database) = try await Self.postgresDatabase()
        let listed = try await server.psql(
            database, "SELECT kind || ' ' || from_state || ' ' || cause || ' ' || to_state FROM job_transitions")
        #expect(listed.status == 0, "\(listed.output)")
        let postgresMoves = Set(listed.output.split(separator: "\n").map(String.init))
        #expect(sqliteMoves == Self.specification)
        #expect(
            postgresMoves == Self.specification,
            "only in PostgreSQL: \(postgresMoves.subtracting(Self.specification)); only in the specification: \(Self.specification.subtracting(postgresMoves))"
        )
    }

    @Test("PostgreSQL refuses raw SQL that breaks an invariant, as SQLite does, and logs what it allows")
    func postgresGuards() async throws {
        let (server, database) = try await Self.postgresDatabase()
        let insert = """
            INSERT INTO jobs (kind, state, max_attempts, created_at, updated_at, due_at, state_cause)
            VALUES ('download', 'queued', 3, 1, 1, 1, 'create') RETURNING id
            """
        let created = try await server.psql(database, insert)
        #expect(created.status == 0, "\(created.output)")
        let id = created.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let refusals: [(sql: String, mentioning: String)] = [
            // Not in the lifecycle, or by the wrong command.
            (
                "UPDATE jobs SET state = 'succeeded', state_cause = 'complete', finished_at = 2, result_location = '/x', result_size = 1, result_sha256 = '\(StoreFixture.sha)' WHERE id = \(id)",
                "illegal job transition"
            ),
            ("UPDATE jobs SET state = 'paused', state_cause = 'cancel' WHERE id = \(id)", "illegal job transition"),
            ("UPDATE jobs SET kind = 'upload' WHERE id = \(id)", "never changes its kind"),
            // A state with the wrong columns, a state of another kind, a job created mid-life.
            ("UPDATE jobs SET state = 'running', state_cause = 'claim' WHERE id = \(id)", "jobs_state_fits"),
            (
                "UPDATE jobs SET state = 'temporary', state_cause = 'requeue' WHERE id = \(id)",
                "violates check constraint"
            ),
            (insert.replacingOccurrences(of: "'create'", with: "'claim'"), "initial state"),
            // The event log is append-only; an upload needs a succeeded download; names stay in their folder.
            ("UPDATE job_events SET reason = 'edited'", "append-only"),
            ("DELETE FROM job_events", "append-only"),
            (
                "INSERT INTO downloads (job_id, url, file_name) VALUES (\(id), 'https://e.test/a', '../etc/passwd')",
                "downloads_file_name_check"
            ),
            (
                "INSERT INTO uploads (job_id, download_id, target) VALUES (\(id), \(id), 's3')",
                "upload"
            ),
            // A detail row belongs to a job of its own kind, and to a job that exists.
            (
                "INSERT INTO videos (job_id, user_id, external_request_id, source_url) VALUES (\(id), 'u', 'r', 'https://e.test/v')",
                "belong to a job of their kind (videos)"
            ),
            (
                "INSERT INTO downloads (job_id, url) VALUES (999999, 'https://e.test/a')",
                "downloads_job_id_fkey"
            ),
        ]
        for refusal in refusals {
            let result = try await server.psql(database, refusal.sql)
            #expect(result.status != 0, "PostgreSQL accepted: \(refusal.sql)")
            #expect(result.output.contains(refusal.mentioning), "\(refusal.sql): \(result.output)")
        }
        // A legal move is accepted and logged by the database itself.
        let paused = try await server.psql(
            database, "UPDATE jobs SET state = 'paused', state_cause = 'pause' WHERE id = \(id)")
        #expect(paused.status == 0, "\(paused.output)")
        let events = try await server.psql(database, "SELECT cause FROM job_events WHERE job_id = \(id) ORDER BY id")
        #expect(events.output.split(separator: "\n") == ["create", "pause"])
    }
}

import FerryCore
import Foundation
import GRDB
import Testing

@testable import FerryStore

extension ProcessSuites {
    /// `ferry db migrate` SIGKILLed at random moments while it migrates a big database made by the
    /// first schema: every migration is one transaction, so each kill leaves the database at a
    /// migration boundary, and the next run finishes the work.
    @Suite("Kills during migrations", .serialized)
    struct MigrationKillTests {
        static let jobs = 60_000

        @Test(
            "`ferry db migrate` and `ferry serve` killed inside the migrations of a first-release database leave it whole, and the next run finishes it"
        )
        func killedMigrations() async throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let template = scratch.url.appendingPathComponent("v1.sqlite").path
            try Self.makeFirstReleaseDatabase(at: template)
            let state = scratch.url.appendingPathComponent("ferry-state")
            let database = state.appendingPathComponent("ferry.sqlite").path
            let environment = ["FERRY_STATE_DIR": state.path]
            func fromTemplate() throws {
                try? FileManager.default.removeItem(at: state)
                try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: template, toPath: database)
            }

            // How long an uninterrupted run takes: the kills land anywhere inside it.
            try fromTemplate()
            let started = ContinuousClock.now
            let whole = try FerryProcess.run(["db", "migrate"], in: scratch.url, environment: environment)
            let duration = (ContinuousClock.now - started).inSeconds
            #expect(whole.status == 0, "\(whole.standardError)")

            var stoppedAt: [Int] = []
            var generator = SystemRandomNumberGenerator()
            for round in 0..<24 {
                try fromTemplate()
                // `ferry serve` migrates before anything else; it is killed whatever it is doing.
                let command = round % 3 == 2 ? ["serve"] : ["db", "migrate"]
                let running = try FerryProcess.start(
                    command, in: scratch.url, environment: environment, logDirectory: scratch.url)
                try await Task.sleep(for: .seconds(Double.random(in: 0...duration, using: &generator)))
                if running.process.isRunning { kill(running.process.processIdentifier, SIGKILL) }
                running.process.waitUntilExit()
                // Killed or not, the database is whole and at a migration boundary…
                stoppedAt.append(try Self.check(database).count)
                // …and the next run finishes the work.
                let next = try FerryProcess.run(["db", "migrate"], in: scratch.url, environment: environment)
                #expect(next.status == 0, "\(next.standardError)")
                #expect(try Self.check(database) == SQLiteJobStore.knownMigrations)
            }
            let all = SQLiteJobStore.knownMigrations.count
            let inside = stoppedAt.filter { $0 < all }
            print("migration kills: stopped after \(stoppedAt) of \(all) migrations (a run takes \(duration) s)")
            #expect(inside.count >= 5, "kills landed inside the migrations: \(stoppedAt)")
            #expect(Set(inside).count >= 2, "at more than one boundary: \(stoppedAt)")
            // Nothing half-done survives: the schema is exactly that of a fresh database.
            let fresh = scratch.url.appendingPathComponent("fresh.sqlite").path
            _ = try SQLiteJobStore.open(StoreConfiguration(path: fresh)).migrate()
            #expect(try Self.schema(of: database) == Self.schema(of: fresh))
        }

        /// A database of the first schema with `jobs` queued downloads and their events, big enough
        /// that the later migrations (table rebuilds, new triggers over every row) take a while.
        static func makeFirstReleaseDatabase(at path: String) throws {
            let store = try SQLiteJobStore.open(StoreConfiguration(path: path))
            try store.migrate(upTo: "v1-jobs")
            try store.pool.write { db in
                try db.execute(
                    sql: """
                        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(jobs))
                        INSERT INTO jobs (id, kind, state, max_attempts, created_at, updated_at, due_at, state_cause)
                        SELECT i, 'download', 'queued', 3, i, i, i, 'create' FROM n;
                        INSERT INTO downloads (job_id, url) SELECT id, 'https://e.test/' || id FROM jobs;
                        INSERT INTO job_events (job_id, at, from_state, to_state, cause, attempt)
                        SELECT id, created_at, NULL, 'queued', 'create', 0 FROM jobs;
                        """)
            }
        }

        /// Integrity, foreign keys and the jobs; returns the migrations applied.
        static func check(_ path: String) throws -> [String] {
            let queue = try DatabaseQueue(path: path)
            return try queue.read { db in
                let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check")
                #expect(integrity == ["ok"])
                #expect(try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").isEmpty)
                #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs") == jobs)
                #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM downloads") == jobs)
                let applied = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
                #expect(
                    Array(SQLiteJobStore.knownMigrations.prefix(applied.count)) == applied,
                    "the migrations applied are the first ones, in order: \(applied)")
                return applied
            }
        }

        static func schema(of path: String) throws -> [String] {
            try DatabaseQueue(path: path).read { db in
                try String.fetchAll(
                    db,
                    sql:
                        "SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_master ORDER BY type, name"
                )
            }
        }
    }
}

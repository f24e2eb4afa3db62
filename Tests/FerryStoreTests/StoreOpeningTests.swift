import FerryCore
import Foundation
import GRDB
import Testing

@testable import FerryStore

/// Opening, migrating and refusing databases.
@Suite("Opening and migrating the store")
struct StoreOpeningTests {
    @Test("A database made by the first schema is migrated forward and keeps its jobs")
    func migrateFromV1() async throws {
        let fixture = try StoreFixture(migrate: false)
        try fixture.store.migrate(upTo: "v1-jobs")
        #expect(try fixture.store.appliedMigrations() == ["v1-jobs"])
        // A v1 database has no triggers: it logs nothing by itself, so write the job and its event.
        try await fixture.execute(
            """
            INSERT INTO jobs (id, kind, state, max_attempts, created_at, updated_at, due_at, state_cause)
            VALUES (7, 'download', 'queued', 3, 1, 1, 1, 'create');
            INSERT INTO downloads (job_id, url) VALUES (7, 'https://e.test/old.mp4');
            INSERT INTO job_events (job_id, at, from_state, to_state, cause, attempt) VALUES (7, 1, NULL, 'queued', 'create', 0);
            """)
        let applied = try fixture.store.migrate()
        #expect(applied == Array(SQLiteJobStore.knownMigrations.dropFirst()))
        #expect(try fixture.store.appliedMigrations() == SQLiteJobStore.knownMigrations)
        #expect(try fixture.store.migrate().isEmpty, "migrating twice is a no-op")
        // The old job runs under the new rules.
        let owner = try await fixture.worker("download-1.a")
        let claimed = try #require(try await fixture.store.claimDueJobs(of: .download, for: owner, limit: 1).first)
        #expect(claimed.job.id == JobID(7))
        #expect(claimed.payload == .download(DownloadSpec(url: "https://e.test/old.mp4")))
        #expect(try await fixture.store.events(of: JobID(7)).map(\.cause) == ["create", "claim"])
        #expect(try await fixture.store.checkIntegrity().isEmpty)
    }

    @Test("A database migrated by a newer Ferry is refused with what to do")
    func schemaTooNew() async throws {
        let fixture = try StoreFixture()
        try await fixture.execute("INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')")
        let error = expectOpenError(.schemaTooNew, path: fixture.path)
        #expect(error?.message.contains("v99-from-the-future") == true)
    }

    @Test("A file that is not SQLite is refused as corrupt")
    func notSQLite() throws {
        let fixture = try StoreFixture(migrate: false)
        let path = fixture.folder.appendingPathComponent("garbage.sqlite").path
        try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: path))
        let error = expectOpenError(.corrupt, path: path)
        #expect(error?.message.contains("restore it from a backup or move it aside") == true)
    }

    @Test("Another application's SQLite database is refused, not migrated into")
    func foreignDatabase() throws {
        let fixture = try StoreFixture(migrate: false)
        let path = fixture.folder.appendingPathComponent("other.sqlite").path
        try DatabaseQueue(path: path).write { db in try db.execute(sql: "CREATE TABLE customers (id INTEGER)") }
        let error = expectOpenError(.corrupt, path: path)
        #expect(error?.message.contains("not a Ferry store") == true)
    }

    @Test("A database in a folder that does not exist is unavailable, with what to check")
    func missingFolder() throws {
        let fixture = try StoreFixture(migrate: false)
        let path = fixture.folder.appendingPathComponent("no/such/folder/ferry.sqlite").path
        let error = expectOpenError(.unavailable, path: path)
        #expect(error?.message.contains("writable") == true)
    }

    @Test("A read-only store reads but refuses writes")
    func readOnly() async throws {
        let fixture = try StoreFixture()
        let id = try await fixture.store.enqueue(download: DownloadRequest(spec: DownloadSpec(url: "https://e.test/a")))
            .job.id
        let reader = try SQLiteJobStore.open(StoreConfiguration(path: fixture.path, readOnly: true))
        #expect(try await reader.job(id).state == .queued)
        await expectStoreError(.unavailable) { try await reader.cancel(id, reason: "x") }
    }

    @Test("The store proves it can still take writes")
    func writeProbe() async throws {
        let fixture = try StoreFixture()
        try await fixture.store.checkWritable()
        try await fixture.store.checkWritable()
    }

    @Test(
        "Commits wait for the disk as configured: the writer keeps database.synchronous, which GRDB's WAL set-up would lower to NORMAL",
        arguments: [(StoreConfiguration.Synchronous.normal, 1), (.full, 2), (.extra, 3)])
    func synchronousIsKept(setting: StoreConfiguration.Synchronous, level: Int) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SQLiteJobStore.open(
            StoreConfiguration(path: StoreFixture.path(in: folder), synchronous: setting))
        let writer = try store.pool.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA synchronous") }
        #expect(writer == level)
    }

    func expectOpenError(
        _ code: StoreError.Code, path: String, sourceLocation: SourceLocation = #_sourceLocation
    ) -> StoreError? {
        do {
            let store = try SQLiteJobStore.open(StoreConfiguration(path: path))
            try store.migrate()
            Issue.record("\(path) opened and migrated", sourceLocation: sourceLocation)
            return nil
        } catch {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            return error
        }
    }
}

import FerryCore
import FerryStore
import FerryTesting
import Foundation
import Testing

extension ProcessSuites {
    /// `ferry db backup` and `ferry db restore` against a real daemon in the middle of its work.
    @Suite("Database backup and restore", .serialized)
    struct BackupRestoreTests {
        static let downloads = 200
        static let size = 64 * 1024

        @Test(
            "A backup taken while 200 downloads run restores to a database that passes every check, and the next start finishes the work"
        )
        func backupWhileBusyThenRestore() async throws {
            let origin = try TestOrigin()
            let scratch = try Scratch()
            defer { scratch.remove() }
            let state = scratch.url.appendingPathComponent("ferry-state").path
            let environment = SupervisorProcessTests.fast.merging([
                "FERRY_STATE_DIR": state, "FERRY_BACKUP_INTERVAL": "0s", "FERRY_WORKERS_DOWNLOAD_CONCURRENCY": "4",
                "FERRY_CLEANUP_RUN_INTERVAL": "0s",
            ]) { $1 }
            let harness = try SupervisorHarness(environment: environment)
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let client = AdminClient(baseURL: try harness.adminURL())
            // Trickled, so that the backup lands in the middle of the work.
            let items = (0..<Self.downloads).map { index in
                #"{"url":"\#(origin.url(size: Self.size + index, rate: 400_000))","file_name":"f\#(index).bin"}"#
            }
            let batch = try await client.post(
                "/api/download-batches", json: #"{"downloads":[\#(items.joined(separator: ","))]}"#)
            #expect(batch.status == 201, "\(batch.body)")
            let database = state + "/ferry.sqlite"
            let store = try SQLiteJobStore.open(StoreConfiguration(path: database, readOnly: true))
            try await Self.waitUntil { try await Self.succeeded(store) >= 10 }
            let copy = scratch.url.appendingPathComponent("copy.sqlite").path
            let backup = try FerryProcess.run(
                ["db", "backup", "--to", copy], in: scratch.url, environment: environment)
            #expect(backup.status == 0, "\(backup.standardError)")
            #expect(backup.standardOutput.contains("integrity ok, \(Self.downloads) jobs"), "\(backup.standardOutput)")
            #expect(backup.standardOutput.contains("schema \(SQLiteJobStore.knownMigrations.last!)"))
            let succeededAtBackup = try await Self.succeeded(store)
            #expect(succeededAtBackup < Self.downloads, "the backup was taken while downloads were still running")

            // The copy is a whole database: integrity, foreign keys, and the schema's own checks.
            let inspected = try await DatabaseCopy.inspect(copy)
            #expect(inspected.jobs == Self.downloads)

            // Restoring under the running daemon is refused and changes nothing.
            let refused = try FerryProcess.run(["db", "restore", copy], in: scratch.url, environment: environment)
            #expect(refused.status == 69)
            #expect(refused.standardError.contains("in use by a running `ferry serve` (pid \(harness.pid))"))
            #expect(!FileManager.default.fileExists(atPath: RestoreMarker.path(for: database)))

            // Let the run finish, so that the restore really goes back in time, then stop.
            try await Self.waitUntil(timeout: 90) { try await Self.succeeded(store) == Self.downloads }
            #expect(harness.stop() == 0)

            // A damaged copy is refused before anything changes.
            let damaged = scratch.url.appendingPathComponent("damaged.sqlite").path
            var bytes = try Data(contentsOf: URL(fileURLWithPath: copy))
            let page = 4096
            for offset in stride(from: 2 * page, to: min(bytes.count, 6 * page), by: 1) { bytes[offset] = 0x5A }
            try bytes.write(to: URL(fileURLWithPath: damaged))
            let before = try Data(contentsOf: URL(fileURLWithPath: database))
            let refusedCopy = try FerryProcess.run(
                ["db", "restore", damaged], in: scratch.url, environment: environment)
            #expect(refusedCopy.status == 65, "\(refusedCopy.standardError)")
            #expect(refusedCopy.standardError.contains(damaged))
            #expect(try Data(contentsOf: URL(fileURLWithPath: database)) == before, "a refused restore changes nothing")

            let restored = try FerryProcess.run(["db", "restore", copy], in: scratch.url, environment: environment)
            #expect(restored.status == 0, "\(restored.standardError)")
            #expect(restored.standardOutput.contains("is kept as \(database).before-restore-"))
            #expect(restored.standardOutput.contains("next: start Ferry"))
            #expect(FileManager.default.fileExists(atPath: RestoreMarker.path(for: database)))
            let status = try FerryProcess.run(["db", "status"], in: scratch.url, environment: environment)
            #expect(status.status == 0 && status.standardOutput.contains("integrity: ok"), "\(status.standardOutput)")

            // The next start requeues what the copy shows running, reconciles records with files
            // at once, and every download ends succeeded with its file whole.
            let again = try SupervisorHarness(environment: environment)
            try #require(again.waitForNotification(containing: "READY=1") != nil)
            let restoredStore = try SQLiteJobStore.open(StoreConfiguration(path: database, readOnly: true))
            #expect(try await Self.succeeded(restoredStore) < Self.downloads, "the restored records are the copy's")
            try await Self.waitUntil(timeout: 90) { try await Self.succeeded(restoredStore) == Self.downloads }
            try await Self.waitUntil { try await restoredStore.lastCleanupRun()?.trigger == .startup }
            #expect(!FileManager.default.fileExists(atPath: RestoreMarker.path(for: database)))
            for job in try await restoredStore.jobs(matching: JobQuery(kind: .download, limit: 1000)) {
                let result = try #require(job.result, "job \(job.id) has a result")
                let attributes = try FileManager.default.attributesOfItem(atPath: result.location)
                #expect((attributes[.size] as? NSNumber)?.int64Value == result.size)
                #expect(try TestOrigin.sha256(ofFile: result.location) == result.sha256)
            }
            #expect(try await restoredStore.checkIntegrity().isEmpty)
            #expect(again.stop() == 0)
        }

        static func succeeded(_ store: SQLiteJobStore) async throws -> Int {
            try await store.queueCounts().filter { $0.kind == .download && $0.state == .succeeded }.reduce(0) {
                $0 + $1.count
            }
        }

        static func waitUntil(timeout: Double = 60, _ condition: () async throws -> Bool) async throws {
            let deadline = Date().addingTimeInterval(timeout)
            while try await !condition() {
                guard Date() < deadline else {
                    Issue.record("timed out after \(timeout) s")
                    return
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}

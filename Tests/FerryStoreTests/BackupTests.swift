import FerryCore
import Foundation
import Testing

@testable import FerryStore

@Suite("Database backups")
struct BackupTests {
    @Test("A backup taken while jobs are written is one consistent snapshot that passes every check")
    func backupUnderWrites() async throws {
        let fixture = try StoreFixture()
        let owner = try await fixture.worker("download-1.a")
        for index in 0..<100 { _ = try await fixture.store.enqueue(download: download("\(index)")) }
        let destination = fixture.folder.appendingPathComponent("backups/copy.sqlite").path
        // Writers keep going while the copy is taken: claims, completions and new jobs.
        let store = fixture.store
        let writers = Task {
            for index in 0..<100 {
                _ = try await store.enqueue(
                    download: DownloadRequest(spec: DownloadSpec(url: "https://example.test/more-\(index).mp4")))
                for claimed in try await store.claimDueJobs(of: .download, for: owner, limit: 2) {
                    _ = try await store.complete(
                        JobCompletion(lease: claimed.lease, result: StoreFixture.result(for: claimed.job.id)))
                }
            }
        }
        let copy = try await fixture.store.backup(to: destination)
        try await writers.value
        #expect(copy.path == destination)
        #expect(copy.schemaVersion == SQLiteJobStore.knownMigrations.last)
        #expect(copy.jobs >= 100 && copy.jobs <= 200)
        // Every succeeded job in the copy has its result, every running one its owner: the
        // schema's own checks held inside the snapshot, and the copy checks clean on its own.
        let reopened = try await DatabaseCopy.inspect(destination)
        #expect(reopened.jobs == copy.jobs)
        let leftovers = try FileManager.default.contentsOfDirectory(
            atPath: (destination as NSString).deletingLastPathComponent)
        #expect(leftovers == ["copy.sqlite"], "no temporary file is left beside the copy: \(leftovers)")
        await expectStoreError(.conflict) { try await fixture.store.backup(to: destination) }
    }

    @Test("A damaged or foreign copy is refused with a message that names it")
    func damagedCopiesAreRefused() async throws {
        let fixture = try StoreFixture()
        for index in 0..<300 { _ = try await fixture.store.enqueue(download: download("\(index)")) }
        let good = fixture.folder.appendingPathComponent("good.sqlite").path
        _ = try await fixture.store.backup(to: good)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        #expect(bytes.count > 8 * 4096, "enough pages to damage one in the middle")
        var cases: [(String, Data)] = [
            ("truncated", bytes.prefix(bytes.count / 2)),
            ("garbage", Data((0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) })),
            ("empty", Data()),
        ]
        var damaged = bytes
        for offset in (3 * 4096)..<(5 * 4096) { damaged[offset] = 0xA5 }
        cases.append(("damaged pages", damaged))
        for (label, content) in cases {
            let path = fixture.folder.appendingPathComponent("\(label).sqlite").path
            try content.write(to: URL(fileURLWithPath: path))
            let error = await expectStoreError(.corrupt) {
                try await DatabaseCopy.inspect(path)
            }
            #expect(error?.message.contains(path) == true, "\(label): \(error?.message ?? "")")
        }
        await expectStoreError(.unavailable) { try await DatabaseCopy.inspect("/nonexistent/copy.sqlite") }
    }

    @Test("A restore is refused while the database is locked, keeps the database it replaces and marks it restored")
    func restoreRespectsTheLock() async throws {
        let fixture = try StoreFixture()
        _ = try await fixture.store.enqueue(download: download("a"))
        let copy = fixture.folder.appendingPathComponent("copy.sqlite").path
        _ = try await fixture.store.backup(to: copy)
        _ = try await fixture.store.enqueue(download: download("b"))
        let live = fixture.folder.appendingPathComponent("live/ferry.sqlite").path
        try FileManager.default.createDirectory(
            atPath: (live as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: copy, toPath: live)
        var lock: DatabaseLock? = try DatabaseLock.acquire(for: live, purpose: "test")
        #expect(DatabaseLock.holder(of: live) == getpid())
        let refused = await expectStoreError(.busy) { try await DatabaseRestore.restore(from: copy, over: live) }
        #expect(refused?.message.contains("pid \(getpid())") == true)
        withExtendedLifetime(lock) {}
        lock = nil
        #expect(DatabaseLock.holder(of: live) == nil)
        let outcome = try await DatabaseRestore.restore(from: copy, over: live)
        #expect(outcome.restored.jobs == 1)
        let aside = try #require(outcome.keptAside)
        #expect(FileManager.default.fileExists(atPath: aside))
        #expect(RestoreMarker.exists(for: live))
        #expect(try await DatabaseCopy.inspect(live).jobs == 1)
    }

    @Test("Pruning keeps the newest scheduled copies and never a manual one")
    func pruning() throws {
        let fixture = try StoreFixture(migrate: false)
        let folder = BackupFolder(path: fixture.folder.appendingPathComponent("backups").path)
        try FileManager.default.createDirectory(atPath: folder.path, withIntermediateDirectories: true)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        var made: [String] = []
        for hour in 0..<5 {
            let path = folder.newCopyPath(at: start.addingTimeInterval(Double(hour) * 3600), manual: false)
            _ = FileManager.default.createFile(atPath: path, contents: Data("x".utf8))
            made.append(path)
        }
        let manual = folder.newCopyPath(at: start, manual: true)
        _ = FileManager.default.createFile(atPath: manual, contents: Data("x".utf8))
        #expect((made[0] as NSString).lastPathComponent == "ferry-20270115T080000Z.sqlite")
        #expect(folder.scheduledCopies() == made)
        #expect(folder.prune(keeping: 2) == Array(made.prefix(3)))
        #expect(folder.scheduledCopies() == Array(made.suffix(2)))
        #expect(FileManager.default.fileExists(atPath: manual))
    }

    private func download(_ name: String) -> DownloadRequest {
        DownloadRequest(spec: DownloadSpec(url: "https://example.test/\(name).mp4"))
    }
}

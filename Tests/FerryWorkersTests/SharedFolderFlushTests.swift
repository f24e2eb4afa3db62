import FerryCore
import Foundation
import Testing

@testable import FerryWorkers

/// The shared flush of `downloads/`: every job whose folder was made before a flush began is
/// covered by it, and no job is told its folder is durable by a flush that began before it.
@Suite("One flush of the shared folder for the jobs publishing together")
struct SharedFolderFlushTests {
    @Test("Tickets taken before a flush share it; a ticket taken after it gets a flush of its own")
    func ticketsShareOneFlush() async throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let flush = SharedFolderFlush()
        let early = await flush.ticket(folder)
        let alsoEarly = await flush.ticket(folder)
        try await flush.flush(folder, covering: early)
        try await flush.flush(folder, covering: alsoEarly)
        #expect(await flush.flushes(of: folder) == 1)

        let late = await flush.ticket(folder)
        try await flush.flush(folder, covering: late)
        #expect(await flush.flushes(of: folder) == 2)
        try await flush.flush(folder, covering: early)
        #expect(await flush.flushes(of: folder) == 2)
    }

    @Test("Twenty jobs whose folders exist before any flush are covered by one fsync between them")
    func concurrentPublishersShare() async throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let flush = SharedFolderFlush()
        var tickets: [UInt64] = []
        for _ in 0..<20 { tickets.append(await flush.ticket(folder)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for ticket in tickets {
                group.addTask { try await flush.flush(folder, covering: ticket) }
            }
            try await group.waitForAll()
        }
        #expect(await flush.flushes(of: folder) == 1)
    }

    @Test("A folder that cannot be flushed fails the job retryably, naming the folder, and counts no flush")
    func failedFlushIsNotCounted() async throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let missing = folder + "/gone"
        let flush = SharedFolderFlush()
        let ticket = await flush.ticket(missing)
        do {
            try await flush.flush(missing, covering: ticket)
            Issue.record("flushing a missing folder succeeded")
        } catch {
            #expect(error.isRetryable)
            #expect(error.message.contains(missing))
        }
        #expect(await flush.flushes(of: missing) == 0)
    }

    private static func folder() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-shared-flush-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }
}

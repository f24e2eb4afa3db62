import FerryCore
import FerryPostgres
import FerryTesting
import Foundation
import Testing

@testable import FerryWorkers

/// The cleanup worker's scan on PostgreSQL, as one node of two: it reads the store itself (no
/// SQLite), as its node, and judges only the files that node holds.
@Suite("The cleanup scan of one node on a shared PostgreSQL")
struct ClusterCleanupScanTests {
    /// A node's store on `url`, registered, with a download worker.
    static func node(_ name: String, url: String) async throws -> PostgresJobStore {
        var configuration = try PostgresStoreConfiguration(url: url)
        configuration.callTimeout = .seconds(120)
        configuration.connectTimeout = .seconds(120)
        configuration.node = NodeIdentity(name: name, incarnation: "1", lease: .seconds(3600))
        let store = try await PostgresJobStore.open(configuration)
        try await store.registerNode()
        try await store.registerWorker(
            WorkerRecord(id: WorkerID("download-1.x@\(name)"), role: .download, slot: 1, pid: 1, startedAt: Date()))
        return store
    }

    /// A download completed on `node` whose file is `<state>/downloads/<id>/f.bin`, written there.
    static func fetched(on node: PostgresJobStore, name: String, state: URL) async throws -> (JobID, String) {
        let id = try await node.enqueue(
            download: DownloadRequest(spec: DownloadSpec(url: "https://e.test/\(UUID().uuidString)"))
        ).job.id
        let claimed = try #require(
            try await node.claimDueJobs(of: .download, for: WorkerID("download-1.x@\(name)"), limit: 1).first)
        let folder = state.appendingPathComponent("downloads/\(id)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("f.bin").path
        try Data("twelve bytes".utf8).write(to: URL(fileURLWithPath: path))
        _ = try await node.complete(
            JobCompletion(
                lease: claimed.lease,
                result: JobResult(location: path, size: 12, sha256: String(repeating: "ab", count: 32))))
        return (id, path)
    }

    static func order(_ url: String, node: String) -> CleanupOrder {
        CleanupOrder(
            runID: 1, dryRun: false,
            database: .postgres(PostgresAccess(url: url, passwordFile: nil, node: node, lease: .seconds(3600))),
            verifyHashes: false, orphans: .quarantine, partialMaxAge: .seconds(3600), settleTime: .zero)
    }

    @Test(
        "A node's scan reports its own missing file and quarantines its own orphan, and leaves another node's records and their copies alone"
    )
    func scanCoversThisNodesFiles() async throws {
        let url = try await PostgresTestServer.shared().makeDatabase()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-scan-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let stateA = root.appendingPathComponent("a")
        let stateB = root.appendingPathComponent("b")
        let setup = try await PostgresJobStore.open(try PostgresStoreConfiguration(url: url))
        try await setup.migrate()
        setup.close()
        let a = try await Self.node("a", url: url)
        let b = try await Self.node("b", url: url)
        defer {
            a.close()
            b.close()
        }
        let (onA, pathA) = try await Self.fetched(on: a, name: "a", state: stateA)
        _ = try await Self.fetched(on: b, name: "b", state: stateB)
        let (lostOnB, pathLost) = try await Self.fetched(on: b, name: "b", state: stateB)
        try FileManager.default.removeItem(atPath: pathLost)
        // In b's folder: a stale copy of a's job folder, and a file no record knows.
        let copy = stateB.appendingPathComponent("downloads/\(onA)/f.bin")
        try FileManager.default.createDirectory(
            at: copy.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("twelve bytes".utf8).write(to: copy)
        let stray = stateB.appendingPathComponent("downloads/999999/stray.bin")
        try FileManager.default.createDirectory(
            at: stray.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("who am I".utf8).write(to: stray)

        let byB = await CleanupScanner(stateDirectory: stateB.path, targets: []).run(Self.order(url, node: "b.1"))
        #expect(byB.error == nil, "\(byB.error ?? "")")
        #expect(byB.report.scannedRecords == 2, "b holds two files: \(byB.report)")
        #expect(byB.report.damagedRecords.map(\.jobID) == [lostOnB.rawValue])
        #expect(byB.report.damagedRecords.first?.problem == .missing)
        #expect(byB.report.orphanFiles.map(\.path) == [stray.path], "\(byB.report.orphanFiles)")
        #expect(byB.report.orphanFiles.first?.action == "quarantined")
        #expect(FileManager.default.fileExists(atPath: copy.path), "a's job folder is a's to judge")
        #expect(!FileManager.default.fileExists(atPath: stray.path))

        // Seen from a, b's missing file is not a's business, and a's own file is whole.
        let byA = await CleanupScanner(stateDirectory: stateA.path, targets: []).run(Self.order(url, node: "a.1"))
        #expect(byA.error == nil, "\(byA.error ?? "")")
        #expect(byA.report.scannedRecords == 1 && byA.report.damagedRecords.isEmpty, "\(byA.report)")
        #expect(byA.report.orphanFiles.isEmpty)
        #expect(FileManager.default.fileExists(atPath: pathA))
    }

    @Test("A scan that cannot read its password file fails saying so, and names no password")
    func unreadablePasswordFile() async throws {
        let url = try await PostgresTestServer.shared().makeDatabase()
        var order = Self.order(url, node: "a.1")
        order.database = .postgres(
            PostgresAccess(url: url, passwordFile: "/nonexistent/ferry-db-password", node: "a.1", lease: .seconds(60)))
        let findings = await CleanupScanner(stateDirectory: "/nonexistent", targets: []).run(order)
        #expect(findings.error?.contains("/nonexistent/ferry-db-password") == true, "\(findings.error ?? "")")
    }
}

import FerryCore
import FerryPostgres
import FerryTesting
import Foundation
import Testing

/// A node name stands for a state folder (its home): a later incarnation in the same folder takes
/// over its predecessor's jobs and files, and another folder (another machine) may not use a name
/// a live node holds, nor adopt the files a dead one left elsewhere.
@Suite("Node names and the state folders they stand for")
struct NodeHomeTests {
    typealias Cluster = NodeLeaseTests.Cluster

    @Test(
        "A live node's name is refused to a node in another state folder; the same folder's next incarnation recovers")
    func liveNameIsRefusedElsewhere() async throws {
        let cluster = try await Cluster()
        defer { cluster.close() }
        let first = try await cluster.node("host-a", incarnation: "1", home: "home-1")
        _ = try await NodeLeaseTests.enqueue(2, on: first)
        let mine = try await first.claimDueJobs(
            of: .download, for: try await NodeLeaseTests.worker("a1.download-1", on: first), limit: 2)

        do {
            _ = try await cluster.node("host-a", incarnation: "2", home: "home-2")
            Issue.record("a second machine registered under a live node's name")
        } catch let error as StoreError {
            #expect(error.code == .conflict, "\(error)")
            #expect(error.message.contains("'host-a'") && error.message.contains("host-a.1"), "\(error)")
            #expect(error.message.contains("cluster.node_name"), "says what to do: \(error)")
        }
        // The refused node wrote nothing: host-a.1 still holds its jobs.
        #expect(try await first.job(mine[0].job.id).state == .running)
        #expect(try await first.cluster().map(\.id).sorted() == ["host-a.1"])

        let again = try await cluster.node("host-a", incarnation: "3", home: "home-1")
        let recovered = try await again.recoverAfterRestart(reason: "the previous supervisor stopped")
        #expect(Set(recovered.map(\.job.id)) == Set(mine.map(\.job.id)))
    }

    @Test("A new folder under a dead node's name does not adopt that node's files; the same folder does")
    func filesFollowTheFolder() async throws {
        let cluster = try await Cluster()
        defer { cluster.close() }
        var files: [String: JobID] = [:]
        for name in ["moved", "same"] {
            let node = try await cluster.node(name, incarnation: "1", home: "\(name)-home-1")
            _ = try await NodeLeaseTests.enqueue(1, on: node)
            let held = try await node.claimDueJobs(
                of: .download, for: try await NodeLeaseTests.worker("\(name)1.download-1", on: node), limit: 1)
            _ = try await node.complete(
                JobCompletion(lease: held[0].lease, result: NodeLeaseTests.result(held[0].job.id)))
            #expect(try await node.fileNodes(of: [held[0].job.id]) == [held[0].job.id: "\(name).1"])
            files[name] = held[0].job.id
            try await cluster.expireLease(of: node)
        }
        let moved = try await cluster.node("moved", incarnation: "2", home: "moved-home-2")
        _ = try await moved.recoverAfterRestart(reason: "start")
        let same = try await cluster.node("same", incarnation: "2", home: "same-home-1")
        _ = try await same.recoverAfterRestart(reason: "start")
        let ids = [try #require(files["moved"]), try #require(files["same"])]
        #expect(try await same.fileNodes(of: ids) == [ids[0]: "moved.1", ids[1]: "same.2"])
    }
}

import FerryCore
import FerryPostgres
import FerryTesting
import Foundation
import Testing

/// One node per Telegram bot long-polls on a shared queue (Telegram ends a second concurrent
/// `getUpdates` with 409 Conflict): the election keeps a live poller, moves a bot off a node that
/// stopped or ran out of lease, and refuses a fenced node.
@Suite("The election of each Telegram bot's polling node")
struct TelegramPollerElectionTests {
    typealias Cluster = NodeLeaseTests.Cluster

    /// Nodes a and b of `cluster`, with their ids.
    func twoNodes(_ cluster: Cluster) async throws -> (PostgresJobStore, String, PostgresJobStore, String) {
        let a = try await cluster.node("a")
        let b = try await cluster.node("b")
        return (a, try #require(a.nodeIdentity?.id), b, try #require(b.nodeIdentity?.id))
    }

    @Test("The first node to ask polls a bot; the others are told who does; a stopped node's bots move")
    func firstAskerPollsUntilItStops() async throws {
        let cluster = try await Cluster()
        defer { cluster.close() }
        let (a, aID, b, bID) = try await twoNodes(cluster)

        #expect(try await a.electTelegramPollers(["relay", "archive"]) == ["relay": aID, "archive": aID])
        // B has the same bots and one more: it polls only the one nobody polled.
        #expect(
            try await b.electTelegramPollers(["relay", "archive", "news"])
                == ["relay": aID, "archive": aID, "news": bID])
        // Asking again changes nothing: a live node keeps its bots.
        #expect(try await a.electTelegramPollers(["relay", "archive"]) == ["relay": aID, "archive": aID])

        try await a.stopNode(reason: "stopped")
        #expect(
            try await b.electTelegramPollers(["relay", "archive", "news"])
                == ["relay": bID, "archive": bID, "news": bID])
    }

    @Test("A node whose lease ran out loses its bots to the next live node, and may not take them back")
    func expiredNodeLosesItsBots() async throws {
        let cluster = try await Cluster()
        defer { cluster.close() }
        let (a, aID, b, bID) = try await twoNodes(cluster)
        #expect(try await a.electTelegramPollers(["relay"]) == ["relay": aID])
        #expect(try await b.electTelegramPollers(["relay"]) == ["relay": aID])

        try await cluster.expireLease(of: a)
        #expect(try await b.electTelegramPollers(["relay"]) == ["relay": bID])
        do {
            _ = try await a.electTelegramPollers(["relay"])
            Issue.record("a node out of lease took part in the election")
        } catch {
            #expect(error.code == .nodeFenced, "\(error)")
        }
        #expect(try await b.electTelegramPollers(["relay"]) == ["relay": bID])
    }

    @Test("A bot a node no longer has configured is given up at its next election, and another node takes it")
    func droppedBotIsGivenUp() async throws {
        let cluster = try await Cluster()
        defer { cluster.close() }
        let (a, aID, b, bID) = try await twoNodes(cluster)
        #expect(try await a.electTelegramPollers(["relay", "archive"]) == ["relay": aID, "archive": aID])
        #expect(try await a.electTelegramPollers(["archive"]) == ["archive": aID])
        #expect(try await b.electTelegramPollers(["relay", "archive"]) == ["relay": bID, "archive": aID])
        // No bots at all: every one is given up.
        #expect(try await a.electTelegramPollers([]) == [:])
        #expect(try await b.electTelegramPollers(["relay", "archive"]) == ["relay": bID, "archive": bID])
    }

    @Test("Nodes electing at once leave each bot exactly one poller")
    func racingElections() async throws {
        let cluster = try await Cluster()
        defer { cluster.close() }
        var nodes: [PostgresJobStore] = []
        for name in ["a", "b", "c", "d"] { nodes.append(try await cluster.node(name)) }
        let bots = (0..<8).map { "bot\($0)" }
        let answers = try await withThrowingTaskGroup(of: [String: String].self) { group in
            for node in nodes { group.addTask { try await node.electTelegramPollers(bots) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        // Every node was told the same poller for each bot, whichever node won it.
        let final = try await nodes[0].electTelegramPollers(bots)
        #expect(final.count == bots.count)
        for answer in answers { #expect(answer == final, "\(answer) vs \(final)") }
    }
}

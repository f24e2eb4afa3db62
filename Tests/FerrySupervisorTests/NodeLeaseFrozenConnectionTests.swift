import FerryCore
import FerryPostgres
import FerrySupervisor
import FerryTesting
import Foundation
import Logging
import Testing

/// A renewal that hangs on a connection nobody answers any more (a host or a network path that
/// went silent, with no reset) is given up after half a renewal interval and tried again soon on
/// a fresh connection. Given the whole time left, it held on until the node had to fence itself,
/// although a new connection would have renewed the lease.
@Suite("A node whose lease connection stops answering renews on a new one")
struct NodeLeaseFrozenConnectionTests {
    @Test(
        "The server process of the lease connection is frozen: the hanging renewal is given up, the next gets through on a new connection, and the node is not fenced",
        .timeLimit(.minutes(3)))
    func renewsOnANewConnection() async throws {
        // Renewals every 20 s; the node fences itself 54 s after its last renewal was sent. The
        // renewal after the freeze hangs and is given up 10 s later; the next, a second after
        // that, then has 10 s to open a new connection and renew, and two more would fit before
        // the fence. (With a 30 s lease, 5 s to connect was once too few under the whole
        // suite's load, and the node fenced itself.)
        let lease = Duration.seconds(60)
        let (database, store, nodeLease, running) = try await NodeLeaseRenewalTests.renewingNode("silent", lease: lease)
        defer {
            running.cancel()
            store.close()
        }
        let server = try await PostgresTestServer.shared()
        var sessions: [String] = []
        while sessions.isEmpty {
            try await Task.sleep(for: .milliseconds(100))
            sessions = try await server.leaseSessions(of: "silent.1", in: database)
        }
        let frozen = try #require(pid_t(sessions[0]))
        #expect(kill(frozen, SIGSTOP) == 0)
        defer { kill(frozen, SIGCONT) }
        let frozenAt = ContinuousClock.now

        // A renewal sent more than half a lease after the freeze got through (the one before it hung).
        if let reason = try await NodeLeaseRenewalTests.fenceBeforeRenewal(
            of: nodeLease, renewedMoreThan: lease / 2, after: frozenAt)
        {
            Issue.record("the node fenced itself although a new connection would renew: \(reason)")
        }
        let now = try await server.leaseSessions(of: "silent.1", in: database)
        #expect(now.contains { $0 != sessions[0] }, "no new lease connection: \(now), frozen \(frozen)")
    }
}

import FerryCore
import FerryPostgres
import FerryTesting
import Foundation
import Logging
import Synchronization
import Testing

/// The connection a node renews its lease on, beside the pool (issue 18): found among the
/// server's sessions by its `application_name`, "ferry lease <node id>".
@Suite("A node's lease connection on PostgreSQL")
struct LeaseSessionTests {
    typealias Cluster = NodeLeaseTests.Cluster

    @Test(
        "The server ends the renewal connection: the next renewal opens a new one and gets through; closing the store closes it"
    )
    func renewalConnectionComesBack() async throws {
        let cluster = try await Cluster()
        defer { cluster.close() }
        let a = try await cluster.node("a")
        let database = String(cluster.url.split(separator: "/").last!.split(separator: "?")[0])
        #expect(try await a.renewLease() > .zero)
        let first = try await PostgresTestServer.shared().leaseSessions(of: "a.1", in: database)
        #expect(first.count == 1, "no connection of the node's own renewed its lease: \(first)")
        let pid = try #require(first.first)
        let ended = try await PostgresTestServer.shared().psql(database, "SELECT pg_terminate_backend(\(pid))")
        #expect(ended.output.trimmingCharacters(in: .whitespacesAndNewlines) == "t", "\(ended.output)")

        #expect(try await a.renewLease() > .zero, "the renewal after the connection was lost failed")
        var second = try await PostgresTestServer.shared().leaseSessions(of: "a.1", in: database)
        // The ended server process may still be listed for a moment.
        var looks = 0
        while second.count != 1, looks < 100 {
            looks += 1
            try await Task.sleep(for: .milliseconds(50))
            second = try await PostgresTestServer.shared().leaseSessions(of: "a.1", in: database)
        }
        #expect(second.count == 1 && second != first, "before \(first), after \(second)")

        // The new connection keeps the fenced semantics.
        try await cluster.expireLease(of: a)
        do {
            try await a.renewLease()
            Issue.record("a lease that ran out was renewed")
        } catch {
            #expect(error.code == .nodeFenced, "\(error)")
        }

        a.close()
        var left = second
        looks = 0
        while !left.isEmpty, looks < 100 {
            looks += 1
            try await Task.sleep(for: .milliseconds(50))
            left = try await PostgresTestServer.shared().leaseSessions(of: "a.1", in: database)
        }
        #expect(left.isEmpty, "closing the store left its lease connection open: \(left)")
    }

    @Test(
        "A renewal hanging on a frozen server process is given up at the call deadline or when cancelled, and the next renewal gets through on a new connection",
        .timeLimit(.minutes(3)))
    func hangingRenewalIsGivenUp() async throws {
        let cluster = try await Cluster()
        defer { cluster.close() }
        let database = String(cluster.url.split(separator: "/").last!.split(separator: "?")[0])
        var frozen: [pid_t] = []
        defer { for pid in frozen { kill(pid, SIGCONT) } }
        /// Opens node `name` and freezes the server process of its lease connection after a first
        /// renewal, as a host that stops answering does.
        func frozenNode(_ name: String, callTimeout: Duration) async throws -> PostgresJobStore {
            var configuration = try PostgresStoreConfiguration.patient(cluster.url)
            configuration.node = NodeIdentity(name: name, incarnation: "1", lease: .seconds(3600))
            configuration.callTimeout = callTimeout
            let store = try await PostgresJobStore.open(configuration)
            try await store.registerNode()
            #expect(try await store.renewLease() > .zero)
            let pid = try #require(
                try await PostgresTestServer.shared().leaseSessions(of: "\(name).1", in: database).compactMap {
                    pid_t($0)
                }
                .first)
            #expect(kill(pid, SIGSTOP) == 0)
            frozen.append(pid)
            return store
        }

        // The call deadline (5 s) gives the renewal up.
        let timed = try await frozenNode("timed", callTimeout: .seconds(5))
        defer { timed.close() }
        do {
            try await timed.renewLease()
            Issue.record("a renewal on a frozen server process got an answer")
        } catch {
            #expect(error.code == .unavailable, "\(error)")
        }
        // The next renewal opens a new connection within the same 5 s, which a loaded machine
        // once missed: as NodeLease does, it is tried again.
        #expect(try await renewsSoon(timed), "the renewal after the deadline did not get through")

        // The caller gives it up (NodeLease at its own deadline) long before the call deadline
        // (10 minutes, past the test's time limit): the cancelled renewal answers at once.
        let cancelled = try await frozenNode("cancelled", callTimeout: .seconds(600))
        defer { cancelled.close() }
        let renewal = Task { try await cancelled.renewLease() }
        try await Task.sleep(for: .milliseconds(200))
        let cancelledAt = ContinuousClock.now
        renewal.cancel()
        if case .success = await renewal.result { Issue.record("a renewal on a frozen server process got an answer") }
        let answeredAfter = ContinuousClock.now - cancelledAt
        // "At once", with room for a loaded machine: far below the call deadline.
        #expect(answeredAfter < .seconds(30), "the cancelled renewal answered only after \(answeredAfter)")
        #expect(try await renewsSoon(cancelled), "the renewal after the cancelled one did not get through")

        for name in ["timed", "cancelled"] {
            let live = try await PostgresTestServer.shared().leaseSessions(of: "\(name).1", in: database).compactMap {
                pid_t($0)
            }
            #expect(
                live.contains { !frozen.contains($0) }, "\(name): no new lease connection: \(live), frozen \(frozen)")
        }
    }

    /// Whether one of up to five renewals, a second apart, gets through (the last one's error is thrown).
    func renewsSoon(_ store: PostgresJobStore) async throws -> Bool {
        var attempt = 0
        while true {
            attempt += 1
            let result: Result<Duration, StoreError>
            do { result = .success(try await store.renewLease()) } catch { result = .failure(error) }
            if case .failure(let error) = result, error.code == .unavailable, attempt < 5 {
                try await Task.sleep(for: .seconds(1))
                continue
            }
            return try result.get() > .zero
        }
    }

    @Test(
        "With a password: the renewal connection logs in, and its loss is logged once, without the password"
    )
    func lossIsLoggedOnceWithoutPassword() async throws {
        let url = try await PostgresTestServer.shared().makePasswordDatabase()
        var configuration = try PostgresStoreConfiguration.patient(url)
        let plain = try await PostgresJobStore.open(configuration)
        try await plain.migrate()
        plain.close()
        configuration.node = NodeIdentity(name: "locked", incarnation: "1")
        let logs = RecordedLogs()
        let store = try await PostgresJobStore.open(configuration, logger: logs.logger)
        defer { store.close() }
        try await store.registerNode()
        #expect(try await store.renewLease() > .zero)
        let database = String(url.split(separator: "/").last!.split(separator: "?")[0])
        for round in 1...2 {
            let sessions = try await PostgresTestServer.shared().leaseSessions(of: "locked.1", in: database)
            #expect(sessions.count == 1, "round \(round): \(sessions)")
            for pid in sessions {
                _ = try await PostgresTestServer.shared().psql(database, "SELECT pg_terminate_backend(\(pid))")
            }
            #expect(try await store.renewLease() > .zero, "round \(round)")
        }
        let losses = logs.lines.filter { $0.contains("renews this node's lease") }
        #expect(losses.count == 2, "one warning per loss (each followed by a renewal that got through): \(losses)")
        #expect(!logs.lines.contains { $0.contains(PostgresTestServer.password) }, "the password was logged")
    }
}

/// What a store logs, as text, for a test to read.
final class RecordedLogs: Sendable {
    private let recorded = Mutex<[String]>([])
    var lines: [String] { recorded.withLock { $0 } }

    var logger: Logger {
        Logger(label: "recorded") { _ in Handler(logs: self) }
    }

    struct Handler: LogHandler {
        let logs: RecordedLogs
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let line = "\(event.level) \(event.message) \(metadata.merging(event.metadata ?? [:]) { $1 })"
            logs.recorded.withLock { $0.append(line) }
        }
    }
}

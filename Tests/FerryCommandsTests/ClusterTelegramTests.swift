import FerryCore
import FerryPostgres
import FerryTesting
import Foundation
import Testing

extension ProcessSuites {
    /// The same Telegram bot configured on two nodes of one PostgreSQL queue: one node long-polls
    /// it (Telegram, and the fake Bot API, end a second concurrent `getUpdates` with 409
    /// Conflict), and when that node dies the other takes the bot over.
    @Suite("One Telegram bot on two nodes", .serialized)
    struct ClusterTelegramTests {
        func node(_ name: String, _ api: FakeBotAPI, url: String) throws -> SupervisorHarness {
            try TelegramTests.start(
                api,
                environment: [
                    "FERRY_DATABASE_URL": url, "FERRY_CLUSTER_NODE_NAME": name,
                    "FERRY_CLUSTER_LEASE": ClusterServeTests.lease,
                ])
        }

        /// Each bot's `polled_by` as `/api/telegram/bots` of `harness` shows it, and its `connected`.
        func bots(on harness: SupervisorHarness) async throws -> [String: (polledBy: String?, connected: Bool?)] {
            let answer = try await AdminClient(baseURL: try harness.adminURL()).get("/api/telegram/bots")
            let bots = answer.json["bots"] as? [[String: Any]] ?? []
            return Dictionary(
                uniqueKeysWithValues: bots.map {
                    ($0["name"] as? String ?? "", ($0["polled_by"] as? String, $0["connected"] as? Bool))
                })
        }

        /// Sends a file to the bot and waits until its download has ended; returns the job.
        func sendFile(_ api: FakeBotAPI, seed: Int, to store: PostgresJobStore) async throws -> Job? {
            let file = try await api.addFile(size: 50_000, seed: seed)
            try await api.receive(TelegramTests.document(file, name: "clip-\(seed).mp4", size: 50_000))
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline {
                let jobs = try await store.jobs(matching: JobQuery(kind: .download, limit: 100))
                if let job = jobs.first(where: { $0.result?.location.hasSuffix("/clip-\(seed).mp4") == true }) {
                    return job
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            return nil
        }

        @Test(
            "Two nodes with the same bot: one polls it and no getUpdates conflicts; its media is fetched; when the polling node dies, the other polls the bot",
            .timeLimit(.minutes(5)))
        func onePollerPerBot() async throws {
            let api = try FakeBotAPI()
            let url = try await PostgresTestServer.shared().makeDatabase()
            let alpha = try node("alpha", api, url: url)
            try #require(alpha.waitForNotification(containing: "READY=1", timeout: 90) != nil)
            let beta = try node("beta", api, url: url)
            try #require(beta.waitForNotification(containing: "READY=1", timeout: 90) != nil)
            var configuration = try PostgresStoreConfiguration(url: url)
            configuration.callTimeout = .seconds(120)
            let store = try await PostgresJobStore.open(configuration)
            defer { store.close() }

            // Both nodes name the same poller once each has held an election.
            var poller: String?
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                let seen = [try await bots(on: alpha)["relay"]?.polledBy, try await bots(on: beta)["relay"]?.polledBy]
                if let first = seen[0], seen[1] == first {
                    poller = first
                    break
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            let polling = try #require(poller, "the nodes never agreed on the bot's poller")
            let (pollingNode, otherNode) = polling.hasPrefix("alpha.") ? (alpha, beta) : (beta, alpha)

            let first = try await sendFile(api, seed: 1, to: store)
            #expect(first?.state == .succeeded, "\(String(describing: first))")
            // Only the polling node's worker reaches the Bot API for updates; the other says nothing of it.
            #expect(try await bots(on: pollingNode)["relay"]?.connected == true)
            #expect(try await bots(on: otherNode)["relay"]?.connected == nil)
            let state = try await api.state()
            #expect(
                state.conflicts == 0, "two nodes polled the bot at once: \(state.conflicts) getUpdates ended in 409")
            #expect((state.calls["getUpdates"] ?? 0) >= 2, "\(state.calls)")
            // `ferry status` on the other node names the poller.
            let status = try FerryProcess.run(
                ["status", "--url", try otherNode.adminURL()], in: otherNode.scratch.url)
            #expect(
                status.standardOutput.contains("telegram bots:") && status.standardOutput.contains(polling),
                "\(status.standardOutput) \(status.standardError)")
            // /metrics says which node polls: the sum over the nodes is one.
            for (harness, polled) in [(pollingNode, 1), (otherNode, 0)] {
                let metrics = try await AdminClient(baseURL: try harness.adminURL()).get("/metrics").body
                #expect(
                    metrics.contains("ferry_telegram_bot_polled{bot=\"relay\"} \(polled)"), "\(metrics.suffix(800))")
            }

            // The polling node dies whole: the other takes the bot over and fetches what it is sent.
            let workers = pollingNode.workers().values.joined()
            kill(pollingNode.pid, SIGKILL)
            for pid in workers { kill(pid, SIGKILL) }
            pollingNode.serve.process.waitUntilExit()
            let second = try await sendFile(api, seed: 2, to: store)
            #expect(second?.state == .succeeded, "\(String(describing: second))")
            let survivor = try await bots(on: otherNode)["relay"]
            #expect(survivor?.polledBy?.hasPrefix(polling.hasPrefix("alpha.") ? "beta." : "alpha.") == true)
            #expect(survivor?.connected == true)
            let sources = try await store.telegramSources(of: [first?.id, second?.id].compactMap { $0 })
            #expect(sources.count == 2)
            #expect(otherNode.stop() == 0)
        }
    }
}

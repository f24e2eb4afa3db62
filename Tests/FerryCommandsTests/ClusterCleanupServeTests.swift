import FerryCore
import FerryPostgres
import FerryTesting
import Foundation
import Testing

extension ProcessSuites {
    /// `ferry repair` against a node of a cluster: the node's cleanup worker reads PostgreSQL,
    /// the node repairs its own files, and another node's running work is left alone.
    @Suite("Cleanup on a node of a PostgreSQL cluster", .serialized)
    struct ClusterCleanupServeTests {
        let cluster = ClusterServeTests()

        func node(_ name: String, url: String) throws -> SupervisorHarness {
            try SupervisorHarness(
                environment: SupervisorProcessTests.fast.merging([
                    "FERRY_DATABASE_URL": url, "FERRY_CLUSTER_NODE_NAME": name,
                    "FERRY_CLUSTER_LEASE": ClusterServeTests.lease, "FERRY_CLEANUP_SETTLE_TIME": "0s",
                    "FERRY_CLEANUP_RUN_INTERVAL": "0s",
                ]) { $1 })
        }

        @Test(
            "A file deleted behind a node's back is refetched and an orphan quarantined by `ferry repair`; the other node's running jobs are not swept",
            .timeLimit(.minutes(4)))
        func repairOnANode() async throws {
            let url = try await PostgresTestServer.shared().makeDatabase()
            let origin = try TestOrigin()
            let alpha = try node("alpha", url: url)
            try #require(alpha.waitForNotification(containing: "READY=1", timeout: 90) != nil)
            let store = try await cluster.store(url)
            defer { store.close() }
            // A download alpha fetches alone (beta is not up yet): its file is on alpha.
            let size = 200_000
            let sha = try TestOrigin.sha256(size: size)
            let first = try await store.enqueue(
                download: DownloadRequest(
                    spec: DownloadSpec(url: origin.url(size: size), fileName: "kept.bin", expectedSHA256: sha))
            ).job.id
            #expect(try await cluster.waitUntil(60) { try await store.job(first).state == .succeeded })
            let file = try #require(try await store.job(first).result?.location)
            #expect(try await store.fileNodes(of: [first])[first]?.hasPrefix("alpha.") == true)

            // beta joins and holds slow downloads while alpha repairs.
            let beta = try node("beta", url: url)
            try #require(beta.waitForNotification(containing: "READY=1", timeout: 90) != nil)
            _ = try await cluster.enqueue(store, origin, count: 8, size: 400_000, rate: 50_000)
            #expect(
                try await cluster.waitUntil(60) { try await !cluster.held(by: "beta", store).isEmpty },
                "node beta never took a job")
            let heldByBeta = try await cluster.held(by: "beta", store).map(\.id)

            // The damage, behind alpha's back: its file deleted, and a file no record knows.
            try FileManager.default.removeItem(atPath: file)
            let state = alpha.scratch.url.appendingPathComponent("ferry-state")
            let stray = state.appendingPathComponent("downloads/999999/stray.bin")
            try FileManager.default.createDirectory(
                at: stray.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data("who am I".utf8).write(to: stray)

            let port = try #require(URLComponents(string: try alpha.adminURL())?.port)
            let repair = try FerryProcess.run(
                ["repair", "--json"], in: alpha.scratch.url, environment: ["FERRY_HTTP_PORT": "\(port)"])
            #expect(repair.status == 0, "\(repair.standardOutput) \(repair.standardError)")
            let run = try #require(
                try JSONSerialization.jsonObject(with: Data(repair.standardOutput.utf8)) as? [String: Any])
            #expect(run["state"] as? String == "succeeded", "\(run)")
            #expect((run["node"] as? String)?.hasPrefix("alpha.") == true, "\(run)")
            let report = try #require(run["report"] as? [String: Any])
            let damaged = report["damaged_records"] as? [[String: Any]] ?? []
            #expect(damaged.map { $0["job_id"] as? Int } == [Int(first.rawValue)], "\(report)")
            #expect(damaged.first?["problem"] as? String == "missing")
            let orphans = report["orphan_files"] as? [[String: Any]] ?? []
            #expect(orphans.map { $0["action"] as? String } == ["quarantined"], "\(report)")
            #expect(report["sweep_requeued"] as? [Int] == [], "alpha swept beta's running jobs: \(report)")
            let quarantined = state.appendingPathComponent("quarantine/downloads/999999/stray.bin")
            #expect(try Data(contentsOf: quarantined) == Data("who am I".utf8))

            // The download is fetched again (by whichever node is free), byte for byte.
            #expect(
                try await cluster.waitUntil(90) {
                    let job = try await store.job(first)
                    return job.state == .succeeded && job.result != nil
                }, "the refetched download did not succeed again")
            let again = try #require(try await store.job(first).result?.location)
            #expect(try TestOrigin.sha256(ofFile: again) == sha)
            #expect(try await store.events(of: first).map(\.cause).contains("refetch"))
            // Nothing beta held was put back by alpha's sweep.
            for id in heldByBeta {
                let swept = try await store.events(of: id).filter { $0.reason?.contains("the sweep") == true }
                #expect(swept.isEmpty, "job \(id) was swept from beta: \(swept)")
            }
            // The sync health shows this node's run.
            let sync = try await AdminClient(baseURL: try alpha.adminURL()).get("/api/health/sync")
            let last = try #require(sync.json["last_cleanup"] as? [String: Any])
            #expect(last["id"] as? Int == run["id"] as? Int, "\(sync.body.prefix(500))")
            #expect(beta.stop() == 0)
            #expect(alpha.stop() == 0)
        }

        @Test(
            "A password written into database.url reaches the cleanup worker (never its order or command line): the scan logs in and finds a deleted file",
            .timeLimit(.minutes(3)))
        func passwordInTheURL() async throws {
            let url = try await PostgresTestServer.shared().makePasswordDatabase()
            #expect(url.contains(PostgresTestServer.passwordUser + ":"))
            let origin = try TestOrigin()
            let alpha = try node("alpha", url: url)
            try #require(alpha.waitForNotification(containing: "READY=1", timeout: 90) != nil)
            let store = try await cluster.store(url)
            defer { store.close() }
            let size = 100_000
            let id = try await store.enqueue(
                download: DownloadRequest(
                    spec: DownloadSpec(
                        url: origin.url(size: size), fileName: "kept.bin",
                        expectedSHA256: try TestOrigin.sha256(size: size)))
            ).job.id
            #expect(try await cluster.waitUntil(60) { try await store.job(id).state == .succeeded })
            try FileManager.default.removeItem(atPath: try #require(try await store.job(id).result?.location))
            // The cleanup worker's command line never holds the password.
            let cleanup = try #require(alpha.workers()[.cleanup]?.first)
            let command = try String(contentsOfFile: "/proc/\(cleanup)/cmdline", encoding: .utf8)
            #expect(!command.contains(PostgresTestServer.password))

            let port = try #require(URLComponents(string: try alpha.adminURL())?.port)
            let check = try FerryProcess.run(
                ["check", "--json"], in: alpha.scratch.url, environment: ["FERRY_HTTP_PORT": "\(port)"])
            let run = try #require(
                try JSONSerialization.jsonObject(with: Data(check.standardOutput.utf8)) as? [String: Any],
                "\(check.standardOutput) \(check.standardError)")
            #expect(run["state"] as? String == "succeeded", "\(run)")
            #expect(!check.standardOutput.contains(PostgresTestServer.password))
            let report = try #require(run["report"] as? [String: Any])
            let damaged = report["damaged_records"] as? [[String: Any]] ?? []
            #expect(damaged.map { $0["job_id"] as? Int } == [Int(id.rawValue)], "\(report)")
            #expect(alpha.stop() == 0)
        }
    }
}

import FerryCore
import FerryPostgres
import FerryTesting
import Foundation
import Testing

extension ProcessSuites {
    /// Several `ferry serve` nodes on one PostgreSQL: they share the queue, a dead node's work is
    /// finished by the others, and a node paused past its lease fences itself.
    @Suite("Nodes on one PostgreSQL", .serialized)
    struct ClusterServeTests {
        /// Long enough that a busy test machine renews in time; the waits below allow for it.
        static let lease = "10s"

        func node(_ name: String, url: String) throws -> SupervisorHarness {
            try SupervisorHarness(
                environment: SupervisorProcessTests.fast.merging([
                    "FERRY_DATABASE_URL": url, "FERRY_CLUSTER_NODE_NAME": name, "FERRY_CLUSTER_LEASE": Self.lease,
                    "FERRY_WORKERS_DOWNLOAD_CONCURRENCY": "4",
                ]) { $1 })
        }

        /// A store of the test's own (no node identity: a tool's view of the queue).
        func store(_ url: String) async throws -> PostgresJobStore {
            var configuration = try PostgresStoreConfiguration(url: url)
            configuration.connectTimeout = .seconds(120)
            configuration.callTimeout = .seconds(120)
            return try await PostgresJobStore.open(configuration)
        }

        func waitUntil(_ timeout: Double, _ condition: () async throws -> Bool) async throws -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if try await condition() { return true }
                try await Task.sleep(for: .milliseconds(100))
            }
            return false
        }

        /// Enqueues `count` downloads trickled at `rate` bytes/s; returns their ids and expected hash.
        func enqueue(
            _ store: PostgresJobStore, _ origin: TestOrigin, count: Int, size: Int, rate: Int
        ) async throws -> [JobID] {
            let sha = try TestOrigin.sha256(size: size)
            return try await store.enqueue(
                downloads: (0..<count).map { index in
                    var options = TestOrigin.Options(key: "cluster-\(UUID())-\(index)")
                    options.rate = rate
                    return DownloadRequest(
                        spec: DownloadSpec(
                            url: origin.url(size: size, options), fileName: "f\(index).bin",
                            expectedSize: Int64(size), expectedSHA256: sha))
                }
            ).map(\.job.id)
        }

        func held(by name: String, _ store: PostgresJobStore) async throws -> [Job] {
            try await store.jobs(matching: JobQuery(states: [.running], limit: 1000)).filter {
                $0.owner?.rawValue.hasSuffix("@\(name)") == true
            }
        }

        /// The succeeded downloads whose file is on node `name`.
        func filesOn(_ name: String, _ store: PostgresJobStore) async throws -> [JobID] {
            let finished = try await store.jobs(matching: JobQuery(kind: .download, limit: 100)).filter {
                $0.state == .succeeded
            }
            return try await store.fileNodes(of: finished.map(\.id)).filter { $0.value.hasPrefix("\(name).") }.keys
                .sorted()
        }

        /// An origin, nodes alpha and beta (both READY) on a fresh database (`url`), and a store on it.
        func startTwoNodes(
            url: String? = nil
        ) async throws -> (TestOrigin, SupervisorHarness, SupervisorHarness, PostgresJobStore) {
            let url = if let url { url } else { try await PostgresTestServer.shared().makeDatabase() }
            let origin = try TestOrigin()
            let a = try node("alpha", url: url)
            try #require(a.waitForNotification(containing: "READY=1", timeout: 90) != nil)
            let b = try node("beta", url: url)
            try #require(b.waitForNotification(containing: "READY=1", timeout: 90) != nil)
            return (origin, a, b, try await store(url))
        }

        /// Kills a supervisor and every worker it started, as a power cut of that machine would.
        func killWholeNode(_ harness: SupervisorHarness) {
            let workers = harness.workers().values.joined()
            kill(harness.pid, SIGKILL)
            for pid in workers { kill(pid, SIGKILL) }
            harness.serve.process.waitUntilExit()
        }

        @Test(
            "Two nodes share the queue; a node SIGKILLed whole has its jobs finished by the other within its lease; /api/cluster and health show it",
            .timeLimit(.minutes(4)))
        func deadNodeWorkIsTakenOver() async throws {
            let url = try await PostgresTestServer.shared().makeDatabase()
            let (origin, a, b, store) = try await startTwoNodes(url: url)
            defer { store.close() }

            let admin = AdminClient(baseURL: try a.adminURL())
            let cluster = try await admin.get("/api/cluster")
            #expect(cluster.status == 200, "\(cluster.body)")
            let nodes = cluster.json["nodes"] as? [[String: Any]] ?? []
            #expect(Set(nodes.compactMap { $0["name"] as? String }) == ["alpha", "beta"], "\(cluster.body)")
            #expect(nodes.allSatisfy { $0["live"] as? Bool == true }, "\(cluster.body)")

            // The admin page shows both nodes in its cluster card (Chromium, headless).
            let page = try AdminPageBrowserTests.checkPage([
                admin.baseURL, "--cluster-card", try AdminPageBrowserTests.artefact("cluster.png").path,
            ])
            #expect(page["console_errors"] as? [String] == [], "\(page)")
            let card = page["cluster_card"] as? [String: Any] ?? [:]
            let cardRows = card["rows"] as? [[String]] ?? []
            #expect(cardRows.count == 2 && cardRows.allSatisfy { $0[2] == "yes" }, "\(page)")
            #expect((card["state"] as? String)?.contains("This node is alpha.") == true, "\(page)")
            #expect(card["cleanup_button_shown"] as? Bool == true, "each node runs the cleanup of its own files")
            let health = try await admin.get("/api/health/system")
            #expect(health.status == 200, "a fresh node is healthy: \(health.body)")

            // 16 downloads of 400 kB at 100 kB/s: each node's four slots are busy for seconds.
            let ids = try await enqueue(store, origin, count: 16, size: 400_000, rate: 100_000)
            // beta dies holding jobs, with files of jobs it finished (for `ferry cluster forget` below).
            let betaBusy = try await waitUntil(60) {
                let holds = try await !held(by: "beta", store).isEmpty
                let finished = try await !filesOn("beta", store).isEmpty
                return holds && finished
            }
            #expect(betaBusy, "node beta never finished a job and took another")
            let beta = try await held(by: "beta", store).map(\.id)
            let killed = ContinuousClock.now
            killWholeNode(b)

            #expect(
                try await waitUntil(120) {
                    try await store.jobs(matching: JobQuery(kind: .download, limit: 100)).allSatisfy {
                        $0.state.phase.isFinal
                    }
                }, "not every job ended after beta died")
            print("beta's \(beta.count) jobs all ended \(ContinuousClock.now - killed) after it was killed")
            for id in ids {
                let job = try await store.job(id)
                #expect(job.state == .succeeded, "job \(id): \(job.state) \(job.lastError?.message ?? "")")
            }
            for id in beta {
                let events = try await store.events(of: id)
                #expect(
                    events.contains { $0.to == .queued && $0.owner?.rawValue.hasSuffix("@beta") == true },
                    "job \(id) was not put back from beta: \(events.map { "\($0.from?.rawValue ?? "-")→\($0.to)" })")
                #expect(events.last?.owner?.rawValue.hasSuffix("@alpha") == true)
            }
            // Each download names the node holding its file: beta's jobs were fetched again on alpha.
            let listing = try await admin.get("/api/downloads?limit=100")
            let rows = listing.json["jobs"] as? [[String: Any]] ?? []
            #expect(rows.count == ids.count, "\(listing.body.prefix(500))")
            for row in rows {
                let node = row["node"] as? String ?? ""
                #expect(node.hasPrefix("alpha.") || node.hasPrefix("beta."), "\(row)")
                if let id = row["id"] as? Int64, beta.contains(JobID(id)) { #expect(node.hasPrefix("alpha.")) }
            }
            let after = try await admin.get("/api/cluster")
            let betaRow = (after.json["nodes"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "beta" }
            #expect(betaRow?["live"] as? Bool == false, "\(after.body)")
            let port = try #require(URLComponents(string: admin.baseURL)?.port)
            let status = try FerryProcess.run(
                ["status"], in: a.scratch.url, environment: ["FERRY_HTTP_PORT": "\(port)"])
            #expect(status.standardOutput.contains("cluster: this node is alpha."), "\(status.standardOutput)")
            #expect(status.standardOutput.contains("no: "), "beta shows as not live: \(status.standardOutput)")
            let later = try await admin.get("/api/health/system")
            #expect(later.body.contains("cluster:nodes"), "\(later.body)")
            #expect(later.body.contains("database:reachable"), "\(later.body)")
            let metrics = try await admin.get("/metrics")
            #expect(metrics.body.contains("ferry_node_info{"), "\(metrics.body.prefix(300))")
            #expect(metrics.body.contains(#"ferry_cluster_nodes{state="live"} 1"#), "alpha alone is live")
            #expect(metrics.body.contains("ferry_node_jobs_taken_over_total{"))

            // beta will not come back: forgetting it fetches its finished files again, on alpha.
            let onBeta = try await filesOn("beta", store)
            #expect(!onBeta.isEmpty)
            let database = ["FERRY_DATABASE_URL": url]
            let alive = try FerryProcess.run(["cluster", "forget", "alpha"], in: a.scratch.url, environment: database)
            #expect(alive.status == 1 && alive.standardError.contains("node alpha is alive"), "\(alive.standardError)")
            let unknown = try FerryProcess.run(
                ["cluster", "forget", "gamma"], in: a.scratch.url, environment: database)
            #expect(unknown.status == 66 && unknown.standardError.contains("no node named gamma"))
            // A dry run lists the same files and changes nothing: beta's files stay beta's.
            let rehearsed = try FerryProcess.run(
                ["cluster", "forget", "--dry-run", "beta"], in: a.scratch.url, environment: database)
            #expect(rehearsed.status == 0, "\(rehearsed.standardError)")
            #expect(
                rehearsed.standardOutput.contains("dry run: nothing was changed")
                    && rehearsed.standardOutput.contains(
                        "fetch again on a live node: " + onBeta.map { "\($0.rawValue)" }.joined(separator: ", ")),
                "\(onBeta) \(rehearsed.standardOutput)")
            #expect(try await filesOn("beta", store) == onBeta)
            // The admin API: a dry run reports the same, a real forget must be confirmed, a live node is refused.
            let apiDryRun = try await admin.post("/api/cluster/nodes/beta/forget", json: #"{"dry_run": true}"#)
            #expect(apiDryRun.status == 200, "\(apiDryRun.body)")
            let wouldRefetch = (apiDryRun.json["refetched"] as? [Any] ?? []).compactMap {
                ($0 as? NSNumber)?.int64Value
            }
            #expect(
                wouldRefetch == onBeta.map(\.rawValue) && apiDryRun.json["dry_run"] as? Bool == true,
                "\(apiDryRun.body)")
            let unconfirmed = try await admin.post("/api/cluster/nodes/beta/forget", json: #"{"confirm": "bet"}"#)
            #expect(
                unconfirmed.status == 400 && unconfirmed.body.contains("confirmation_required"), "\(unconfirmed.body)")
            let live = try await admin.post("/api/cluster/nodes/alpha/forget", json: #"{"confirm": "alpha"}"#)
            #expect(live.status == 409 && live.body.contains("node alpha is alive"), "\(live.body)")
            #expect(try await filesOn("beta", store) == onBeta)
            // The page forgets beta from its row: the dry run's report in the prompt, then the name typed.
            let forgot = try AdminPageBrowserTests.checkPage([
                admin.baseURL, "--forget-node", "beta", try AdminPageBrowserTests.artefact("cluster-forget.png").path,
            ])
            #expect(forgot["console_errors"] as? [String] == [], "\(forgot)")
            let shown = forgot["forget"] as? [String: Any] ?? [:]
            #expect(shown["button_shown"] as? Bool == true, "\(forgot)")
            #expect(
                (shown["prompt"] as? String)?.contains(
                    "fetch again on a live node: "
                        + (onBeta.isEmpty ? "none" : onBeta.map { "\($0.rawValue)" }.joined(separator: ", "))) == true,
                "\(onBeta) \(forgot)")
            let note = shown["note"] as? String ?? ""
            #expect(note.hasPrefix("Forgot node beta: \(onBeta.count) download(s)"), "\(forgot)")
            #expect(
                try await waitUntil(60) {
                    var all = true
                    for id in onBeta {
                        let job = try await store.job(id)
                        let node = try await store.fileNodes(of: [id])[id] ?? ""
                        all = all && job.state == .succeeded && node.hasPrefix("alpha.")
                    }
                    return all
                }, "beta's finished files were not fetched again on alpha")
            #expect(a.stop() == 0)
        }

        @Test(
            "A node paused past its lease fences itself when it wakes: it exits 75 and no late report of its workers is applied",
            .timeLimit(.minutes(4)))
        func pausedNodeFencesItself() async throws {
            let (origin, a, b, store) = try await startTwoNodes()
            defer { store.close() }

            // Short transfers: beta's workers finish while their supervisor is stopped, and their
            // reports wait in its pipes until it wakes, its lease long gone.
            let ids = try await enqueue(store, origin, count: 16, size: 200_000, rate: 200_000)
            // beta dies holding jobs, with files of jobs it finished (for `ferry cluster forget` below).
            let betaBusy = try await waitUntil(60) {
                let holds = try await !held(by: "beta", store).isEmpty
                let finished = try await !filesOn("beta", store).isEmpty
                return holds && finished
            }
            #expect(betaBusy, "node beta never finished a job and took another")
            kill(b.pid, SIGSTOP)
            // Past beta's lease and alpha's next renewal: alpha takes beta's jobs and runs them.
            try await Task.sleep(for: .seconds(16))
            kill(b.pid, SIGCONT)
            b.serve.process.waitUntilExit()
            #expect(b.serve.process.terminationStatus == 75)
            let log =
                (try? String(contentsOf: b.scratch.url.appendingPathComponent("serve.err"), encoding: .utf8)) ?? ""
            #expect(log.contains("lost its lease"), "\(log.suffix(2000))")

            #expect(
                try await waitUntil(120) {
                    try await store.jobs(matching: JobQuery(kind: .download, limit: 100)).allSatisfy {
                        $0.state.phase.isFinal
                    }
                }, "not every job ended")
            var takenFromBeta = 0
            for id in ids {
                let job = try await store.job(id)
                #expect(job.state == .succeeded, "job \(id): \(job.state) \(job.lastError?.message ?? "")")
                let events = try await store.events(of: id)
                #expect(events.filter { $0.to == .succeeded }.count == 1, "job \(id) completed more than once")
                // Once a job was put back from beta, nothing beta's workers said was applied.
                if let back = events.firstIndex(where: {
                    $0.to == .queued && $0.owner?.rawValue.hasSuffix("@beta") == true
                }) {
                    takenFromBeta += 1
                    #expect(
                        !events[(back + 1)...].contains { $0.owner?.rawValue.hasSuffix("@beta") == true },
                        "job \(id) moved under beta after it was taken over")
                }
            }
            print("alpha took \(takenFromBeta) jobs over from the paused beta")
            #expect(takenFromBeta > 0, "beta held jobs when paused, yet none was put back")
            #expect(a.stop() == 0)
        }

        @Test(
            "A second node on a running node's state folder, or under its name from another folder, is refused and says why; the running node goes on",
            .timeLimit(.minutes(3)))
        func oneNodePerFolderAndName() async throws {
            let url = try await PostgresTestServer.shared().makeDatabase()
            let alpha = try node("alpha", url: url)
            try #require(alpha.waitForNotification(containing: "READY=1", timeout: 90) != nil)
            let folder = alpha.scratch.url.appendingPathComponent("ferry-state").path

            let sameFolder = try SupervisorHarness(
                environment: SupervisorProcessTests.fast.merging([
                    "FERRY_DATABASE_URL": url, "FERRY_CLUSTER_NODE_NAME": "other", "FERRY_STATE_DIR": folder,
                ]) { $1 })
            sameFolder.serve.process.waitUntilExit()
            #expect(sameFolder.serve.process.terminationStatus != 0)
            let folderLog = try String(
                contentsOf: sameFolder.scratch.url.appendingPathComponent("serve.err"), encoding: .utf8)
            #expect(folderLog.contains("the state folder \(folder) is in use"), "\(folderLog.suffix(1500))")

            let sameName = try node("alpha", url: url)
            sameName.serve.process.waitUntilExit()
            #expect(sameName.serve.process.terminationStatus != 0)
            let nameLog = try String(
                contentsOf: sameName.scratch.url.appendingPathComponent("serve.err"), encoding: .utf8)
            #expect(
                nameLog.contains("the node name 'alpha' is taken by a live node")
                    && nameLog.contains("cluster.node_name"),
                "\(nameLog.suffix(1500))")

            // Neither touched alpha: still the one node, live and healthy.
            let cluster = try await AdminClient(baseURL: try alpha.adminURL()).get("/api/cluster")
            let nodes = cluster.json["nodes"] as? [[String: Any]] ?? []
            #expect(nodes.count == 1 && nodes.first?["live"] as? Bool == true, "\(cluster.body)")
            #expect(alpha.stop() == 0)
        }
    }
}

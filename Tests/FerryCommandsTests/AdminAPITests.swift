import FerryCore
import FerryTesting
import Foundation
import Testing

extension ProcessSuites {
    /// The HTTP admin of a real `ferry serve`, over loopback, with real workers behind it.
    @Suite("The admin API", .serialized)
    struct AdminAPITests {
        func start(_ environment: [String: String] = [:]) throws -> (SupervisorHarness, AdminClient) {
            let harness = try SupervisorHarness(environment: SupervisorProcessTests.fast.merging(environment) { $1 })
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            return (harness, AdminClient(baseURL: try harness.adminURL()))
        }

        func waitForState(
            _ client: AdminClient, _ id: Int, _ states: Set<String>, timeout: Double = 30
        ) async throws -> [String: Any] {
            let deadline = Date().addingTimeInterval(timeout)
            while true {
                let download = try await client.get("/api/downloads/\(id)").json["download"] as? [String: Any] ?? [:]
                if let state = download["state"] as? String, states.contains(state) || Date() > deadline {
                    return download
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }

        @Test("READY comes after the listener is bound; liveness, readiness and system health answer")
        func healthAnswers() async throws {
            let (harness, client) = try start()
            #expect(try await client.get("/healthz").status == 200)
            #expect(try await client.get("/readyz").status == 200)
            let health = try await client.get("/api/health/system")
            #expect(health.status == 200)
            #expect(health.headers.first(name: "Content-Type")?.hasPrefix("application/health+json") == true)
            #expect(health.headers.first(name: "Date")?.hasSuffix(" GMT") == true, "every answer carries a Date")
            #expect(health.headers.first(name: "Server")?.hasPrefix("ferry/") == true)
            let document = health.json
            #expect(["pass", "warn"].contains(document["status"] as? String))
            let checks = try #require(document["checks"] as? [String: [[String: Any]]])
            #expect(checks["database:writable"]?.first?["status"] as? String == "pass")
            #expect(checks["worker:heartbeat"]?.count == 4)
            #expect(checks["download:workers"]?.first?["observedValue"] as? Int == 1)
            #expect(checks["disk:state"]?.first?["observedUnit"] as? String == "bytes")
            #expect(checks["memory:available"] != nil && checks["cpu:load"] != nil)
            let workers = try await client.get("/api/workers").json
            #expect((workers["workers"] as? [Any])?.count == 4)
            #expect(harness.stop() == 0)
        }

        @Test("A download submitted through the API runs to success; the same Idempotency-Key returns it")
        func downloadThroughAPI() async throws {
            let origin = try TestOrigin()
            let (harness, client) = try start()
            let body = #"{"url":"\#(origin.url(size: 200_000))","file_name":"clip.bin","size":200000}"#
            let created = try await client.post("/api/downloads", json: body, headers: [("Idempotency-Key", "clip-1")])
            #expect(created.status == 201)
            let id = try #require(created.json["id"] as? Int)
            #expect(created.headers.first(name: "Location") == "/api/downloads/\(id)")
            let again = try await client.post("/api/downloads", json: body, headers: [("Idempotency-Key", "clip-1")])
            #expect(again.status == 200)
            #expect(again.json["id"] as? Int == id)
            let done = try await waitForState(client, id, ["succeeded", "failed"])
            #expect(done["state"] as? String == "succeeded")
            let result = try #require(done["result"] as? [String: Any])
            #expect(result["sha256"] as? String == (try TestOrigin.sha256(size: 200_000)))
            let detail = try await client.get("/api/downloads/\(id)").json
            let events = try #require(detail["events"] as? [[String: Any]])
            #expect(events.map { $0["to"] as? String } == ["queued", "running", "succeeded"])
            let page = try await client.get("/api/downloads?state=succeeded&limit=10").json
            #expect((page["jobs"] as? [[String: Any]])?.map { $0["id"] as? Int } == [id])
            let sync = try await client.get("/api/health/sync")
            #expect(sync.status == 200)
            #expect(sync.json["running_without_live_owner"] as? Int == 0)

            // The finished job is counted, and the exposition passes promtool's lint.
            let metrics = try await client.get("/metrics")
            #expect(metrics.body.contains(#"ferry_jobs_finished_total{kind="download",outcome="succeeded"} 1"#))
            #expect(metrics.body.contains("# HELP ferry_job_attempt_duration_seconds"))
            let lint = try ChildProcess.run("promtool", ["check", "metrics"], input: metrics.body)
            #expect(lint.status == 0, "promtool check metrics: \(lint.output)")
            #expect(lint.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "findings: \(lint.output)")
            #expect(harness.stop() == 0)
        }

        @Test("A batch queues many downloads at once, all or nothing; its items' keys make sending it again harmless")
        func downloadBatch() async throws {
            let origin = try TestOrigin()
            let (harness, client) = try start()
            let items = (0..<3).map { #"{"url":"\#(origin.url(size: 50_000 + $0))","idempotency_key":"b-\#($0)"}"# }
            let body = #"{"downloads":[\#(items.joined(separator: ","))]}"#
            let created = try await client.post("/api/download-batches", json: body)
            #expect(created.status == 201 && created.json["created"] as? Int == 3, "\(created.body)")
            let ids = try #require((created.json["downloads"] as? [[String: Any]])?.compactMap { $0["id"] as? Int })
            #expect(ids.count == 3)
            let again = try await client.post("/api/download-batches", json: body)
            #expect(again.status == 200 && again.json["created"] as? Int == 0)
            #expect((again.json["downloads"] as? [[String: Any]])?.compactMap { $0["id"] as? Int } == ids)
            for (index, id) in ids.enumerated() {
                let done = try await waitForState(client, id, ["succeeded", "failed"])
                #expect(done["state"] as? String == "succeeded")
                #expect((done["result"] as? [String: Any])?["size"] as? Int == 50_000 + index)
            }
            // One bad item refuses the batch, naming it; nothing of it is queued.
            let bad = try await client.post(
                "/api/download-batches",
                json: #"{"downloads":[{"url":"\#(origin.url(size: 10))"},{"url":"ftp://example.test/x"}]}"#)
            #expect(bad.status == 400 && bad.errorCode == "unsupported_scheme")
            #expect(((bad.json["error"] as? [String: Any])?["message"] as? String)?.contains("downloads[1]") == true)
            let unknown = try await client.post(
                "/api/download-batches", json: #"{"downloads":[{"url":"\#(origin.url(size: 10))","colour":1}]}"#)
            #expect(unknown.status == 400 && unknown.errorCode == "unknown_field")
            let empty = try await client.post("/api/download-batches", json: #"{"downloads":[]}"#)
            #expect(empty.status == 400 && empty.errorCode == "invalid_batch")
            let repeated = try await client.post(
                "/api/download-batches",
                json:
                    #"{"downloads":[{"url":"http://a.test/1","idempotency_key":"k"},{"url":"http://a.test/2","idempotency_key":"k"}]}"#
            )
            #expect(repeated.status == 400 && repeated.errorCode == "duplicate_idempotency_key")
            let page = try await client.get("/api/downloads?limit=50").json
            #expect((page["jobs"] as? [[String: Any]])?.count == 3, "only the first batch was queued")
            #expect(harness.stop() == 0)
        }

        @Test("Cancelling a running download stops it and frees the worker for the next job")
        func cancelRunning() async throws {
            let origin = try TestOrigin()
            // The retried job is still running at stop: a short grace keeps the test short.
            let (harness, client) = try start(["FERRY_SUPERVISOR_SHUTDOWN_GRACE": "2s"])
            let slow = try await client.post(
                "/api/downloads", json: #"{"url":"\#(origin.url(size: 50_000_000, rate: 100_000))"}"#)
            let id = try #require(slow.json["id"] as? Int)
            _ = try await waitForState(client, id, ["running"])
            let cancelled = try await client.post("/api/jobs/\(id)/cancel")
            #expect(cancelled.status == 200)
            #expect(cancelled.json["state"] as? String == "cancelled")
            #expect(try await client.post("/api/jobs/\(id)/cancel").errorCode == "illegal_transition")
            let quick = try await client.post("/api/downloads", json: #"{"url":"\#(origin.url(size: 1000))"}"#)
            let next = try #require(quick.json["id"] as? Int)
            #expect(try await waitForState(client, next, ["succeeded"])["state"] as? String == "succeeded")
            let retried = try await client.post("/api/jobs/\(id)/retry")
            #expect(retried.json["state"] as? String == "queued")
            #expect(harness.workers()[.download]?.count == 1)
            #expect(harness.stop() == 0)
        }

        @Test("Videos: stored once per user and request id, listed with paging, ordering and a status filter")
        func videos() async throws {
            let (harness, client) = try start(["FERRY_WORKERS_STORE_PROCESSES": "0"])
            var ids: [Int] = []
            for index in 1...3 {
                let body =
                    #"{"user_id":"u1","external_request_id":"r\#(index)","url":"http://127.0.0.1:9/v\#(index).mp4","metadata":{"prompt_text":"a cat"}}"#
                let created = try await client.post("/api/videos", json: body)
                #expect(created.status == 201, "\(created.body)")
                ids.append(try #require(created.json["id"] as? Int))
            }
            let again = try await client.post(
                "/api/videos", json: #"{"user_id":"u1","external_request_id":"r1","url":"http://127.0.0.1:9/v1.mp4"}"#)
            #expect(again.status == 200)
            #expect(again.json["id"] as? Int == ids[0])
            let input = again.json["input"] as? [String: Any]
            #expect(input?["metadata"] as? String == #"{"prompt_text":"a cat"}"#)
            _ = try await client.post(
                "/api/videos", json: #"{"user_id":"u2","external_request_id":"r1","url":"http://127.0.0.1:9/x"}"#)
            let first = try await client.get("/api/user/videos?user_id=u1&limit=2&orderBy=createdAt&orderDirection=asc")
            #expect(first.json["total"] as? Int == 3)
            #expect((first.json["videos"] as? [[String: Any]])?.map { $0["id"] as? Int } == [ids[0], ids[1]])
            let second = try await client.get("/api/user/videos?user_id=u1&limit=2&page=2&orderDirection=asc")
            #expect((second.json["videos"] as? [[String: Any]])?.map { $0["id"] as? Int } == [ids[2]])
            let temporary = try await client.get("/api/user/videos?user_id=u1&status=temporary")
            #expect(temporary.json["total"] as? Int == 3)
            let stored = try await client.get("/api/user/videos?user_id=u1&status=stored")
            #expect(stored.json["total"] as? Int == 0)
            #expect(try await client.get("/api/user/videos").errorCode == "missing_user_id")
            #expect(try await client.get("/api/user/videos?user_id=u1&orderBy=size").errorCode == "invalid_order")
            #expect(try await client.get("/api/user/videos?user_id=u1&status=running").errorCode == "invalid_status")
            let notObject = try await client.post(
                "/api/videos", json: #"{"user_id":"u1","external_request_id":"r9","url":"http://h/v","metadata":[1]}"#)
            #expect(notObject.errorCode == "invalid_field")
            #expect(harness.stop() == 0)
        }

        @Test("Bad requests get JSON errors with stable codes: 400, 404, 405, 413, cross-site 403")
        func badRequests() async throws {
            let (harness, client) = try start()
            let cases: [(String, Int, String)] = [
                (#"{"url":"ftp://example.com/a"}"#, 400, "unsupported_scheme"),
                (#"{"url":"not a url"}"#, 400, "invalid_url"),
                (#"{"file_name":"a.bin"}"#, 400, "missing_field"),
                (#"{"url":"http://127.0.0.1:9/a","file_name":"../../etc/passwd"}"#, 400, "invalid_file_name"),
                (#"{"url":"http://127.0.0.1:9/a","sha256":"xyz"}"#, 400, "invalid_sha256"),
                (#"{"url":"http://127.0.0.1:9/a","upload_targets":["nowhere"]}"#, 400, "unknown_target"),
                (#"{"url":7}"#, 400, "invalid_field"),
                ("{not json", 400, "invalid_json"),
                ("[1, 2]", 400, "invalid_json"),
                (#"{"url":"http://127.0.0.1:9/a","filename":"typo.bin"}"#, 400, "unknown_field"),
                // The limit leaves room for a .torrent file in base64 (16 MiB of file).
                (String(repeating: "x", count: 100_000), 400, "invalid_json"),
                (String(repeating: "x", count: 23_000_000), 413, "body_too_large"),
            ]
            for (body, status, code) in cases {
                let answer = try await client.post("/api/downloads", json: body)
                #expect(answer.status == status, "\(body.prefix(60))")
                #expect(answer.errorCode == code, "\(body.prefix(60)): \(answer.body)")
            }
            #expect(try await client.get("/api/nothing").status == 404)
            #expect(try await client.get("/api/downloads/abc").errorCode == "invalid_id")
            #expect(try await client.get("/api/downloads/999").status == 404)
            #expect(try await client.post("/api/jobs/999/retry").status == 404)
            #expect(try await client.post("/api/workers/painter/restart").status == 404)
            let wrongMethod = try await client.send(.DELETE, "/api/downloads")
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.headers.first(name: "Allow")?.contains("POST") == true)
            let crossSite = try await client.post(
                "/api/downloads", json: #"{"url":"http://127.0.0.1:9/a"}"#,
                headers: [("Origin", "https://evil.example")])
            #expect(crossSite.status == 403)
            let fetchSite = try await client.post("/api/jobs/1/cancel", headers: [("Sec-Fetch-Site", "cross-site")])
            #expect(fetchSite.errorCode == "cross_site_request")
            // Nothing of the above created a job.
            #expect((try await client.get("/api/downloads").json["jobs"] as? [Any])?.isEmpty == true)
            #expect(harness.stop() == 0)
        }

        @Test("With a token configured, state-changing requests need it")
        func tokenRequired() async throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let tokenFile = try scratch.write("s3cret-token-0123456789\n", to: "token")
            // No download workers: the job created below must not keep a worker busy at stop.
            let (harness, client) = try start([
                "FERRY_HTTP_TOKEN_FILE": tokenFile, "FERRY_WORKERS_DOWNLOAD_PROCESSES": "0",
            ])
            let body = #"{"url":"http://127.0.0.1:9/a"}"#
            #expect(try await client.post("/api/downloads", json: body).status == 401)
            let wrong = try await client.post("/api/downloads", json: body, headers: [("Authorization", "Bearer nope")])
            #expect(wrong.status == 401)
            #expect(wrong.headers.first(name: "WWW-Authenticate")?.hasPrefix("Bearer") == true)
            let right = try await client.post(
                "/api/downloads", json: body, headers: [("Authorization", "Bearer s3cret-token-0123456789")])
            #expect(right.status == 201)
            // Reading records needs it too (SecretsInURLsTests has the whole list).
            #expect(try await client.get("/api/downloads").status == 401)
            #expect(harness.stop() == 0)
        }

        @Test("The CLI client enqueues, lists, cancels and reports status; it says so when the daemon is not there")
        func commandLineClient() async throws {
            let (harness, client) = try start([
                "FERRY_WORKERS_DOWNLOAD_PROCESSES": "0", "FERRY_WORKERS_STORE_PROCESSES": "0",
            ])
            let port = try #require(URLComponents(string: client.baseURL)?.port)
            let environment = ["FERRY_HTTP_PORT": "\(port)"]
            let folder = harness.scratch.url
            let enqueued = try FerryProcess.run(
                ["enqueue", "http://127.0.0.1:9/a.bin", "--idempotency-key", "a"], in: folder, environment: environment)
            #expect(enqueued.status == 0)
            #expect(enqueued.standardOutput == "queued download 1\n")
            let again = try FerryProcess.run(
                ["enqueue", "http://127.0.0.1:9/a.bin", "--idempotency-key", "a"], in: folder, environment: environment)
            #expect(again.standardOutput.contains("already exists"))
            let refused = try FerryProcess.run(
                ["enqueue", "ftp://example.com/a"], in: folder, environment: environment)
            #expect(refused.status == 1)
            #expect(refused.standardError.contains("unsupported_scheme"))
            let listed = try FerryProcess.run(["jobs", "list", "--json"], in: folder, environment: environment)
            let page = try JSONSerialization.jsonObject(with: Data(listed.standardOutput.utf8)) as? [String: Any]
            #expect((page?["jobs"] as? [[String: Any]])?.first?["state"] as? String == "queued")
            let cancelled = try FerryProcess.run(["jobs", "cancel", "1"], in: folder, environment: environment)
            #expect(cancelled.standardOutput == "job 1: cancelled\n")
            let stored = try FerryProcess.run(
                ["videos", "store", "--user", "u1", "--request-id", "r1", "http://127.0.0.1:9/v.mp4"], in: folder,
                environment: environment)
            #expect(stored.standardOutput.hasPrefix("storing video "), "\(stored.standardError)")
            let videos = try FerryProcess.run(
                ["videos", "list", "--user", "u1", "--status", "temporary"], in: folder, environment: environment)
            #expect(videos.standardOutput.contains("r1") && videos.standardOutput.contains("1 in all"))
            // A list of URLs goes in batches; the same list with the same key queues nothing twice.
            let list = folder.appendingPathComponent("urls.txt")
            try "# clips\nhttp://127.0.0.1:9/b.bin\n\nhttp://127.0.0.1:9/c.bin\n".write(
                to: list, atomically: true, encoding: .utf8)
            let listed2 = try FerryProcess.run(
                ["enqueue", "-i", list.path, "--idempotency-key", "l"], in: folder, environment: environment)
            #expect(listed2.standardOutput == "queued 2 downloads\n", "\(listed2.standardError)")
            let listedAgain = try FerryProcess.run(
                ["enqueue", "-i", list.path, "--idempotency-key", "l"], in: folder, environment: environment)
            #expect(listedAgain.standardOutput == "queued 0 downloads; 2 already existed (same keys)\n")
            let both = try FerryProcess.run(["enqueue", "http://a.test/x", "-i", list.path], in: folder)
            #expect(both.status == 64 && both.standardError.contains("either a URL or --input"))
            let status = try FerryProcess.run(["status"], in: folder, environment: environment)
            #expect(status.status == 0)
            #expect(status.standardOutput.contains("WORKER") && status.standardOutput.contains("cancelled"))
            // The machine's figures, as the page shows them.
            #expect(status.standardOutput.contains("machine: CPU "), "\(status.standardOutput)")
            #expect(status.standardOutput.contains("memory: ") && status.standardOutput.contains(" available of "))
            #expect(status.standardOutput.contains("FOLDER") && status.standardOutput.contains("state"))
            #expect(harness.stop() == 0)
            let gone = try FerryProcess.run(["status"], in: folder, environment: environment)
            #expect(gone.status == 69)
            #expect(gone.standardError.contains("Is the daemon running?"))
        }

        @Test("Due work that nobody takes makes the sync health warn, and the detailed answer lists it")
        func stuckWork() async throws {
            let (harness, client) = try start([
                "FERRY_WORKERS_DOWNLOAD_PROCESSES": "0", "FERRY_HEALTH_STUCK_AFTER": "1s",
            ])
            let created = try await client.post("/api/downloads", json: #"{"url":"http://127.0.0.1:9/a"}"#)
            let id = try #require(created.json["id"] as? Int)
            try await Task.sleep(for: .milliseconds(1600))
            let sync = try await client.get("/api/health/sync")
            #expect(sync.status == 200)
            #expect(sync.json["status"] as? String == "warn")
            #expect(sync.json["stuck_kinds"] as? [String] == ["download"])
            let detailed = try await client.get("/api/health/sync/detailed").json
            #expect((detailed["stuck_jobs"] as? [[String: Any]])?.map { $0["id"] as? Int } == [id])
            // Stuck work is the sync check's business: no system check warns of it. (The load
            // check may warn on a busy test machine, whatever the daemon does.)
            let system = try await client.get("/api/health/system").json
            let checks = try #require(system["checks"] as? [String: [[String: Any]]])
            let warning = checks.filter { name, entries in
                name != "cpu:load" && entries.contains { $0["status"] as? String != "pass" }
            }
            #expect(warning.isEmpty, "\(warning.keys.sorted())")
            #expect(harness.stop() == 0)
        }

        @Test("A port already in use stops the start with a clear error and exit status 69")
        func portInUse() async throws {
            let (harness, client) = try start()
            let port = try #require(URLComponents(string: client.baseURL)?.port)
            let scratch = try Scratch()
            defer { scratch.remove() }
            let second = try FerryProcess.run(
                ["serve"], in: scratch.url, environment: ["FERRY_HTTP_PORT": "\(port)"])
            #expect(second.status == 69)
            #expect(second.standardError.contains("cannot listen on 127.0.0.1:\(port)"))
            let badToken = try FerryProcess.run(
                ["serve"], in: scratch.url, environment: ["FERRY_HTTP_TOKEN_FILE": "/nonexistent/token"])
            #expect(badToken.status == 78)
            #expect(badToken.standardError.contains("http.token_file"))
            #expect(harness.stop() == 0)
        }
    }
}

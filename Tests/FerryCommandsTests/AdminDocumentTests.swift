import AsyncHTTPClient
import FerryTesting
import Foundation
import NIOCore
import Testing

extension ProcessSuites {
    /// The OpenAPI document, the event stream and the page of a real `ferry serve`.
    @Suite("The admin API's document, event stream and page", .serialized)
    struct AdminDocumentTests {
        static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()

        /// No download workers: fuzzed downloads must never make the daemon fetch from the network.
        func start() throws -> (SupervisorHarness, AdminClient) {
            let harness = try SupervisorHarness(
                environment: SupervisorProcessTests.fast.merging(["FERRY_WORKERS_DOWNLOAD_PROCESSES": "0"]) { $1 })
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            return (harness, AdminClient(baseURL: try harness.adminURL()))
        }

        @Test("The served OpenAPI document is the repository's, and a valid OpenAPI 3.1 document")
        func documentIsValid() async throws {
            let (harness, client) = try start()
            let served = try await client.get("/api/openapi.json")
            #expect(served.status == 200)
            let file = Self.repository.appendingPathComponent("Sources/FerryAdmin/OpenAPI/openapi.json")
            #expect(served.body == (try String(contentsOf: file, encoding: .utf8)))
            let check = try ChildProcess.run(
                "python3",
                [
                    "-c",
                    "import json, sys; from openapi_spec_validator import validate; "
                        + "validate(json.load(open(sys.argv[1]))); print('valid')",
                    file.path,
                ])
            #expect(check.status == 0, "\(check.output)")
            #expect(harness.stop() == 0)
        }

        @Test("A property-based fuzz run (schemathesis) finds no 5xx and no answer that breaks the document")
        func fuzz() async throws {
            let (harness, client) = try start()
            let result = try ChildProcess.run(
                "schemathesis",
                [
                    "run", client.baseURL + "/api/openapi.json", "--url", client.baseURL, "--checks",
                    "not_a_server_error,response_schema_conformance,status_code_conformance,"
                        + "content_type_conformance,response_headers_conformance,unsupported_method",
                    "--max-examples", "20", "--exclude-path", "/api/events", "--request-timeout", "10",
                    "--generation-deterministic",
                ])
            #expect(result.status == 0, "\(result.output.suffix(4000))")
            #expect(harness.stop() == 0)
        }

        @Test("The event stream tells of each job transition and of the workers")
        func eventStream() async throws {
            let (harness, client) = try start()
            var request = HTTPClientRequest(url: client.baseURL + "/api/events")
            request.headers.add(name: "Accept", value: "text/event-stream")
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            #expect(response.headers.first(name: "Content-Type")?.hasPrefix("text/event-stream") == true)
            let created = try await client.post("/api/downloads", json: #"{"url":"http://127.0.0.1:9/a"}"#)
            let id = try #require(created.json["id"] as? Int)
            _ = try await client.post("/api/jobs/\(id)/cancel")
            var text = ""
            let deadline = Date().addingTimeInterval(15)
            for try await chunk in response.body {
                text += String(buffer: chunk)
                if text.contains(#""to":"cancelled""#) || Date() > deadline { break }
            }
            #expect(text.contains("event: workers"))
            #expect(text.contains("event: job\ndata: {") && text.contains(#""job_id":\#(id)"#))
            #expect(text.contains(#""to":"queued""#) && text.contains(#""to":"cancelled""#))
            #expect(harness.stop() == 0)
        }

        @Test("The page is one self-contained HTML file with a strict content security policy")
        func page() async throws {
            let (harness, client) = try start()
            let page = try await client.get("/")
            #expect(page.status == 200)
            #expect(page.headers.first(name: "Content-Type")?.hasPrefix("text/html") == true)
            #expect(page.headers.first(name: "Content-Security-Policy")?.contains("default-src 'none'") == true)
            #expect(page.body.contains("<title>Ferry</title>"))
            // Nothing is loaded from elsewhere: no external scripts, styles or fonts.
            #expect(!page.body.contains("src=\"http") && !page.body.contains("href=\"http"))
            #expect(harness.stop() == 0)
        }
    }
}

extension ProcessSuites {
    /// The admin page in a real browser: Debian's Chromium, headless, driven over the DevTools
    /// protocol by Browser/page_check.py.
    @Suite("The admin page in a browser", .serialized)
    struct AdminPageBrowserTests {
        @Test("The page loads with no console errors, shows a running job's progress, and its retry button works")
        func pageInChromium() async throws {
            let origin = try TestOrigin()
            let harness = try SupervisorHarness(environment: SupervisorProcessTests.fast)
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let client = AdminClient(baseURL: try harness.adminURL())
            let slow = try await client.post(
                "/api/downloads",
                json: #"{"url":"\#(origin.url(size: 20_000_000, rate: 200_000))","file_name":"slow.bin"}"#)
            let running = try #require(slow.json["id"] as? Int)
            // Slow too: a small file could be fetched before the cancel lands (a loaded machine did),
            // and a succeeded job has no retry button.
            let other = try await client.post(
                "/api/downloads", json: #"{"url":"\#(origin.url(size: 5_000_000, rate: 200_000))"}"#)
            let retried = try #require(other.json["id"] as? Int)
            _ = try await client.post("/api/jobs/\(retried)/cancel")

            let screenshot = try Self.artefact("admin-page.png")
            let seen = try Self.checkPage([
                client.baseURL, "\(running)", "\(retried)", screenshot.path, origin.url(size: 5000),
            ])
            #expect(seen["loaded"] as? Bool == true)
            #expect(seen["console_errors"] as? [String] == [], "\(seen)")
            #expect(seen["network_errors"] as? [String] == [], "\(seen)")
            #expect((seen["progress_percent"] as? Double ?? 0) > 0, "\(seen)")
            #expect(seen["retry_clicked"] as? Bool == true)
            #expect(seen["retry_state_before"] as? String == "cancelled")
            #expect(["queued", "running", "succeeded"].contains(seen["retry_state_after"] as? String), "\(seen)")
            #expect(
                (seen["cleanup"] as? String)?.contains("succeeded") == true, "the cleanup button ran a cleanup: \(seen)"
            )
            #expect(seen["live"] as? Bool == true)
            // A person can work from it: submit, look into a download, filter, page.
            let submitted = seen["submitted"] as? [String: Any]
            #expect((submitted?["result"] as? String)?.hasPrefix("queued download ") == true, "\(seen)")
            #expect(submitted?["job"] as? String != nil, "the submitted download shows under its file name: \(seen)")
            let detail = seen["detail"] as? [String: Any]
            #expect((detail?["events"] as? Int ?? 0) >= 2, "the detail shows the event log: \(seen)")
            #expect((detail?["actions"] as? [String])?.contains("pause") == true, "\(seen)")
            #expect((detail?["summary"] as? String)?.contains("attempt 1 of") == true, "\(seen)")
            #expect((seen["filtered"] as? Int ?? 0) >= 1, "the state filter lists only running downloads: \(seen)")
            #expect(seen["lists"] as? Bool == true)
            #expect(seen["axe_violations"] as? [String] == [], "axe-core: no serious or critical finding: \(seen)")
            #expect(FileManager.default.fileExists(atPath: screenshot.path))
            #expect(harness.stop() == 0)
        }

        @Test("A crash-looping role gets a card of its own with its last exits")
        func crashLoopCard() async throws {
            // READY never comes while a role cannot start; the page is there all the same.
            let harness = try SupervisorHarness(
                environment: SupervisorProcessTests.fast.merging([
                    "FERRY_TEST_WORKER_FAULT": "cleanup:exit-at-start",
                    "FERRY_SUPERVISOR_RESTART_CRASH_LOOP_AFTER": "3",
                ]) { $1 })
            let client = AdminClient(baseURL: try harness.adminURL())
            let seen = try Self.checkPage([client.baseURL, "--crash-card", try Self.artefact("crash-loop.png").path])
            #expect(seen["console_errors"] as? [String] == [], "\(seen)")
            // The only failed requests are the health checks answering 503, as a failing role should.
            let network = seen["network_errors"] as? [String] ?? ["missing"]
            #expect(network.allSatisfy { $0.contains("503") && $0.contains("/api/health/system") }, "\(seen)")
            let card = seen["crash_card"] as? String ?? ""
            #expect(card.contains("The cleanup workers keep crashing"), "\(seen)")
            #expect(card.contains("crash (exit 3)"), "\(seen)")
            #expect(harness.stop() == 0)
        }

        static func artefact(_ name: String) throws -> URL {
            let folder = AdminDocumentTests.repository.appendingPathComponent(".build/test-artifacts")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            return folder.appendingPathComponent(name)
        }

        /// Runs Browser/page_check.py and returns what it saw.
        static func checkPage(_ arguments: [String]) throws -> [String: Any] {
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("Browser/page_check.py")
            let (status, text) = try ChildProcess.run("python3", [script.path] + arguments)
            #expect(status == 0, "\(text)")
            let line = try #require(text.split(separator: "\n").last.map(String.init), "\(text)")
            return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(text)")
        }
    }
}

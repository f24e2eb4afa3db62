import AsyncHTTPClient
import FerryTesting
import Foundation
import NIOCore
import Testing

extension ProcessSuites {
    /// URLs often carry credentials: a password, a presigned signature, a Telegram bot token. The
    /// store keeps them whole for the workers; nothing a person or another program reads does.
    @Suite("Secrets in URLs", .serialized)
    struct SecretsInURLsTests {
        static let token = "s3cret-token-0123456789"
        static let secrets = ["pa55-secret-word", "sig-secret-111", "tok-secret-222", "tg-secret-333"]

        @Test("A secret given in a URL appears in no API answer, event, log line or CLI output")
        func secretsStayInTheStore() async throws {
            let origin = try TestOrigin()
            let scratch = try Scratch()
            defer { scratch.remove() }
            let tokenFile = try scratch.write(Self.token + "\n", to: "token")
            let harness = try SupervisorHarness(
                environment: SupervisorProcessTests.fast.merging(["FERRY_HTTP_TOKEN_FILE": tokenFile]) { $1 })
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let client = AdminClient(baseURL: try harness.adminURL())
            let auth = [("Authorization", "Bearer \(Self.token)")]
            let port = try #require(URLComponents(string: origin.url(size: 1))?.port)
            // Both end failed (the origin answers 404), so their URLs also reach error messages.
            let urls = [
                "http://alice:pa55-secret-word@127.0.0.1:\(port)/file/1000?fail=404&failures=99"
                    + "&X-Amz-Signature=sig-secret-111&token=tok-secret-222",
                "http://127.0.0.1:\(port)/file/bot123456:tg-secret-333/document.bin",
            ]
            var ids: [Int] = []
            for url in urls {
                let created = try await client.post("/api/downloads", json: #"{"url":"\#(url)"}"#, headers: auth)
                #expect(created.status == 201, "\(created.body)")
                ids.append(try #require(created.json["id"] as? Int))
            }
            // The store has the whole URL: the worker needs it.
            let stored = try harness.store()
            for (id, url) in zip(ids, urls) {
                guard case .download(let spec) = try await stored.payload(of: .init(Int64(id))) else {
                    Issue.record("job \(id) is not a download")
                    continue
                }
                #expect(spec.url == url)
            }
            var seen: [String] = []
            for id in ids {
                let deadline = Date().addingTimeInterval(30)
                while Date() < deadline {
                    let answer = try await client.get("/api/downloads/\(id)", headers: auth)
                    let state = (answer.json["download"] as? [String: Any])?["state"] as? String
                    if state == "failed" { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                seen.append(try await client.get("/api/downloads/\(id)", headers: auth).body)
                seen.append(try await client.get("/api/jobs/\(id)", headers: auth).body)
            }
            let list = try await client.get("/api/downloads", headers: auth)
            #expect(list.body.contains("REDACTED"), "the list shows the redacted URL: \(list.body)")
            seen.append(list.body)
            seen.append(try await client.get("/api/workers", headers: auth).body)
            seen.append(try await client.get("/api/health/sync/detailed", headers: auth).body)
            seen.append(try await Self.eventStream(client.baseURL))
            // A refused request that quotes its URL back does not echo the secret either.
            let refused = try await client.post(
                "/api/downloads", json: #"{"url":"gopher://bob:pa55-secret-word@127.0.0.1/x"}"#, headers: auth)
            #expect(refused.status == 400)
            seen.append(refused.body)
            // The CLI prints what the API gives it.
            let environment = [
                "FERRY_HTTP_PORT": "\(try #require(URLComponents(string: client.baseURL)?.port))",
                "FERRY_HTTP_TOKEN_FILE": tokenFile,
            ]
            for arguments in [
                ["jobs", "list"], ["jobs", "show", "\(ids[0])"], ["jobs", "show", "\(ids[1])", "--json"],
            ] {
                let output = try FerryProcess.run(arguments, in: scratch.url, environment: environment)
                #expect(output.status == 0, "\(arguments): \(output.standardError)")
                seen.append(output.standardOutput + output.standardError)
            }
            #expect(harness.stop() == 0)
            let log = try String(contentsOf: harness.scratch.url.appendingPathComponent("serve.err"), encoding: .utf8)
            seen.append(log)
            for (index, text) in seen.enumerated() {
                for secret in Self.secrets {
                    #expect(!text.contains(secret), "answer \(index) shows \(secret): \(text.prefix(2000))")
                }
            }
        }

        @Test("With a token configured, reading records needs it too; health, readiness and metrics stay open")
        func readingNeedsTheToken() async throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let tokenFile = try scratch.write(Self.token + "\n", to: "token")
            let harness = try SupervisorHarness(
                environment: SupervisorProcessTests.fast.merging([
                    "FERRY_HTTP_TOKEN_FILE": tokenFile, "FERRY_WORKERS_DOWNLOAD_PROCESSES": "0",
                ]) { $1 })
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let client = AdminClient(baseURL: try harness.adminURL())
            let auth = [("Authorization", "Bearer \(Self.token)")]
            for path in [
                "/api/downloads", "/api/downloads/1", "/api/jobs/1", "/api/workers", "/api/videos",
                "/api/health/sync/detailed", "/api/events", "/api/cleanup/runs/1",
            ] {
                let answer = try await client.get(path)
                #expect(answer.status == 401, "\(path) answered \(answer.status) without the token")
                #expect(answer.errorCode == "unauthorized")
                let wrong = try await client.get(path, headers: [("Authorization", "Bearer not-the-token")])
                #expect(wrong.status == 401, "\(path) answered \(wrong.status) to a wrong token")
            }
            for path in [
                "/", "/healthz", "/readyz", "/metrics", "/api/health/system", "/api/health/sync", "/api/openapi.json",
                "/api/metrics/history",
            ] {
                #expect(try await client.get(path).status == 200, "\(path) needs no token")
            }
            #expect(try await client.get("/api/downloads", headers: auth).status == 200)
            #expect(try await client.get("/api/workers", headers: auth).status == 200)
            #expect(harness.stop() == 0)
        }

        /// The whole event log as the stream sends it (from the first event): its first write holds
        /// the backlog and then the fleet, so reading stops at the fleet's frame.
        static func eventStream(_ baseURL: String) async throws -> String {
            var request = HTTPClientRequest(url: baseURL + "/api/events")
            request.headers.add(name: "Last-Event-ID", value: "0")
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            var text = ""
            for try await chunk in response.body {
                text += String(buffer: chunk)
                if text.contains("event: workers") { break }
            }
            #expect(text.contains("event: job"), "the stream sent the event log: \(text.prefix(500))")
            return text
        }
    }
}

import FerryTesting
import Foundation
import Testing

extension ProcessSuites {
    /// `ferry enqueue --wait` and `ferry jobs watch` against a real daemon, in a pipe and on a
    /// real terminal (a pseudo-terminal from script(1)).
    @Suite("Watching jobs from the terminal", .serialized)
    struct WatchCommandTests {
        @Test(
            "enqueue --wait follows a download to its end: plain lines in a pipe, the result, exit 0; a failure exits 1"
        )
        func waitInAPipe() async throws {
            let origin = try TestOrigin()
            let harness = try SupervisorHarness(environment: SupervisorProcessTests.fast)
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let port = try #require(URLComponents(string: try harness.adminURL())?.port)
            let environment = ["FERRY_HTTP_PORT": "\(port)"]
            let folder = harness.scratch.url
            let size = 600_000
            let good = try FerryProcess.run(
                ["enqueue", origin.url(size: size, rate: 300_000), "--file-name", "clip.bin", "--wait"], in: folder,
                environment: environment)
            #expect(good.status == 0, "\(good.standardOutput)\n\(good.standardError)")
            let lines = good.standardOutput.split(separator: "\n").map(String.init)
            #expect(lines.first == "queued download 1")
            #expect(lines.contains { $0.hasPrefix("#1 clip.bin") && $0.hasSuffix("running") }, "\(lines)")
            #expect(!good.standardOutput.contains("\u{1B}["), "no terminal control codes in a pipe")
            let sha = try TestOrigin.sha256(size: size)
            #expect(
                lines.last?.hasPrefix("#1 succeeded: ") == true
                    && lines.last?.contains("SHA-256 \(sha.prefix(12))") == true,
                "\(lines)")

            let bad = try FerryProcess.run(
                [
                    "enqueue",
                    "http://127.0.0.1:\(try #require(URLComponents(string: origin.url(size: 1))?.port))/nothing",
                    "--wait",
                ],
                in: folder, environment: environment)
            #expect(bad.status == 1)
            #expect(bad.standardOutput.contains("#2 failed (http_404)"), "\(bad.standardOutput)")

            let idle = try FerryProcess.run(["jobs", "watch"], in: folder, environment: environment)
            #expect(idle.status == 0 && idle.standardOutput == "no unfinished downloads to watch\n")
            #expect(harness.stop() == 0)
        }

        @Test("On a terminal, jobs watch redraws one line per job in place with a bar, then prints the results")
        func watchOnATerminal() async throws {
            let origin = try TestOrigin()
            let harness = try SupervisorHarness(
                environment: SupervisorProcessTests.fast.merging(["FERRY_WORKERS_DOWNLOAD_CONCURRENCY": "2"]) { $1 })
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let client = AdminClient(baseURL: try harness.adminURL())
            let port = try #require(URLComponents(string: client.baseURL)?.port)
            for index in 0..<2 {
                let body =
                    #"{"url":"\#(origin.url(size: 900_000 + index, rate: 300_000))","file_name":"f\#(index).bin"}"#
                #expect(try await client.post("/api/downloads", json: body).status == 201)
            }
            // script(1) gives the command a pseudo-terminal and copies what it writes to ours.
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
            process.arguments = ["-qefc", "\(FerryProcess.executable.path) jobs watch 1 2", "/dev/null"]
            process.currentDirectoryURL = harness.scratch.url
            var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("FERRY_") }
            environment["FERRY_HTTP_PORT"] = "\(port)"
            environment["TERM"] = "xterm"
            process.environment = environment
            let output = Pipe()
            process.standardOutput = output
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let data = try output.fileHandleForReading.readToEnd() ?? Data()
            process.waitUntilExit()
            let text = String(decoding: data, as: UTF8.self)
            #expect(process.terminationStatus == 0, "\(text)")
            #expect(text.contains("\u{1B}[2A"), "the two lines are redrawn in place")
            #expect(text.contains("\u{1B}[2K#1 f0.bin") && text.contains("\u{1B}[2K#2 f1.bin"))
            #expect(text.contains("#-"), "a bar under way: \(text.suffix(600))")
            #expect(text.contains("#1 succeeded: ") && text.contains("#2 succeeded: "))
            #expect(harness.stop() == 0)
        }
    }
}

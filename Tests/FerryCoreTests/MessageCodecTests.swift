import FerryCore
import Foundation
import Testing

@Suite("The supervisor–worker protocol")
struct MessageCodecTests {
    let lease = JobLease(jobID: JobID(42), owner: WorkerID("download-1.ab12"), attempt: 2)

    @Test("Every worker message survives a round trip through one line")
    func workerMessagesRoundTrip() throws {
        let at = Date(timeIntervalSince1970: 1_700_000_000.123)
        let messages: [WorkerMessage] = [
            .hello(.init(pid: 1234, role: .download, version: FerryVersion.current, protocolVersion: 1)),
            .heartbeat(.init(at: at, jobs: [JobID(1), JobID(2)], bytesSinceLastBeat: 1 << 40, lastSuccessAt: nil)),
            .progress(.init(lease: lease, progress: JobProgress(bytesDone: 10, bytesTotal: 100), resumeState: "{}")),
            .outcome(.init(lease: lease, result: .succeeded(JobResult(location: "/a", size: 3, sha256: "ab")))),
            .outcome(.init(lease: lease, result: .failed(.retryable("http_503", "busy", retryAfter: .seconds(30))))),
            .outcome(.init(lease: lease, result: .stopped(resumeState: nil))),
            .outcome(
                .init(lease: lease, result: .failed(.retryable("truncated", "cut")), resumeState: #"{"bytes":5}"#)),
            .cleanupFindings(CleanupFindings(runID: 3, report: CleanupReport(), error: "database locked")),
        ]
        for message in messages {
            let line = MessageCodec.encode(message)
            #expect(line.last == 0x0A, "a message ends its line")
            #expect(!line.dropLast().contains(0x0A), "a message is exactly one line")
            #expect(try MessageCodec.decodeWorkerMessage(line.dropLast()) == message)
        }
    }

    @Test("Every supervisor message survives a round trip through one line")
    func supervisorMessagesRoundTrip() throws {
        let messages: [SupervisorMessage] = [
            .assign(
                .init(lease: lease, payload: .download(DownloadSpec(url: "https://e.test/a\nb")), resumeState: nil)),
            .assign(
                .init(
                    lease: lease,
                    payload: .video(VideoSpec(userID: "u", externalRequestID: "r", sourceURL: "https://e.test/v")),
                    resumeState: "{\"bytes\":5}")),
            .cancel(JobID(7), reason: "cancelled by operator"),
            .drain,
            .shutdown,
            .cleanup(
                CleanupOrder(
                    runID: 3, dryRun: true, database: .sqlite(path: "/var/lib/ferry/ferry.sqlite"), verifyHashes: false,
                    orphans: .adopt, partialMaxAge: .seconds(60), settleTime: .zero)),
            .cleanup(
                CleanupOrder(
                    runID: 4, dryRun: false,
                    database: .postgres(
                        PostgresAccess(
                            url: "postgres://ferry@db.example:5432/ferry", passwordFile: "/etc/ferry/db-password",
                            node: "a.1f2e3d4c", lease: .seconds(15))),
                    verifyHashes: true, orphans: .quarantine, partialMaxAge: .seconds(60), settleTime: .seconds(5))),
            .telegramPoll(TelegramPolling(bots: ["relay", "archive"])),
            .telegramPoll(TelegramPolling(bots: [])),
        ]
        for message in messages {
            let line = MessageCodec.encode(message)
            #expect(try MessageCodec.decodeSupervisorMessage(line.dropLast()) == message)
        }
    }

    @Test("A cleanup order never carries the database password, only where the worker reads it")
    func cleanupOrderHasNoPassword() throws {
        let access = PostgresAccess(
            url: "postgres://ferry:s3cret@db.example:5432/ferry?sslmode=require", passwordFile: nil, node: "a.1",
            lease: .seconds(15))
        let order = CleanupOrder(
            runID: 1, dryRun: false, database: .postgres(access), verifyHashes: false, orphans: .report,
            partialMaxAge: .seconds(60), settleTime: .seconds(5))
        let line = String(decoding: MessageCodec.encode(SupervisorMessage.cleanup(order)), as: UTF8.self)
        #expect(!line.contains("s3cret"), "\(line)")
        #expect(access.url == "postgres://ferry@db.example:5432/ferry?sslmode=require")
        #expect(try access.password(environment: ["FERRY_DATABASE_PASSWORD": "from-env"]) == "from-env")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-pw-\(UUID().uuidString)")
        try Data("from-file\nignored\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let fromFile = PostgresAccess(url: access.url, passwordFile: file.path, node: "a.1", lease: .seconds(15))
        #expect(try fromFile.password(environment: ["FERRY_DATABASE_PASSWORD": "from-env"]) == "from-file")
    }

    @Test(
        "Garbage, unknown types, other versions, bad bodies and huge lines are typed errors",
        arguments: [
            ("not json at all", ProtocolError.Code.malformed),
            ("{\"type\":\"hello\"}", .malformed),
            ("{\"v\":3,\"type\":\"launch_missiles\",\"body\":{}}", .unknownType),
            ("{\"v\":99,\"type\":\"hello\",\"body\":{}}", .versionMismatch),
            ("{\"v\":3,\"type\":\"hello\",\"body\":{\"pid\":\"x\"}}", .malformed),
            ("{\"v\":3,\"type\":\"heartbeat\"}", .malformed),
            ("\u{0}\u{1}\u{2}", .malformed),
        ])
    func malformedLines(line: String, code: ProtocolError.Code) {
        #expect {
            _ = try MessageCodec.decodeWorkerMessage(Array(line.utf8))
        } throws: { error in
            (error as? ProtocolError)?.code == code
        }
    }

    @Test("A line over the limit is refused before it is parsed")
    func tooLong() {
        let line = [UInt8](repeating: 0x20, count: MessageCodec.maximumLineLength + 1)
        #expect {
            _ = try MessageCodec.decodeWorkerMessage(line)
        } throws: { error in
            (error as? ProtocolError)?.code == .tooLong
        }
    }
}

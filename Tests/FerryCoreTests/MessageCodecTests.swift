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
                    runID: 3, dryRun: true, databasePath: "/var/lib/ferry/ferry.sqlite", verifyHashes: false,
                    orphans: .adopt, partialMaxAge: .seconds(60), settleTime: .zero)),
        ]
        for message in messages {
            let line = MessageCodec.encode(message)
            #expect(try MessageCodec.decodeSupervisorMessage(line.dropLast()) == message)
        }
    }

    @Test(
        "Garbage, unknown types, other versions, bad bodies and huge lines are typed errors",
        arguments: [
            ("not json at all", ProtocolError.Code.malformed),
            ("{\"type\":\"hello\"}", .malformed),
            ("{\"v\":2,\"type\":\"launch_missiles\",\"body\":{}}", .unknownType),
            ("{\"v\":99,\"type\":\"hello\",\"body\":{}}", .versionMismatch),
            ("{\"v\":2,\"type\":\"hello\",\"body\":{\"pid\":\"x\"}}", .malformed),
            ("{\"v\":2,\"type\":\"heartbeat\"}", .malformed),
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

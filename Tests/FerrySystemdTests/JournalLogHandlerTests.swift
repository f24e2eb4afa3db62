import FerrySystemd
import FerryTesting
import Foundation
import Logging
import Testing

@Suite("Logging to the journal")
struct JournalLogHandlerTests {
    @Test(
        "A record becomes MESSAGE with its metadata, PRIORITY, the identifier, the call site and one FERRY_ field per key"
    )
    func fieldsOfARecord() {
        let fields = JournalLogHandler.fields(
            level: .warning, message: "a job made no progress\nsecond line",
            metadata: ["job_id": "42", "worker": "download-1.9f", "role": "download"], label: "ferry",
            identifier: "ferry", file: "FerrySupervisor/WorkerFleet.swift", function: "stalled()", line: 421)
        #expect(
            fields == [
                "MESSAGE=a job made no progress\nsecond line job_id=42 role=download worker=download-1.9f",
                "PRIORITY=4", "SYSLOG_IDENTIFIER=ferry",
                "CODE_FILE=FerrySupervisor/WorkerFleet.swift", "CODE_LINE=421", "CODE_FUNC=stalled()",
                "FERRY_LOGGER=ferry", "FERRY_JOB_ID=42", "FERRY_ROLE=download", "FERRY_WORKER=download-1.9f",
            ])
    }

    @Test("Levels map to syslog priorities, so journalctl -p selects them")
    func priorities() {
        let priorities = [Logger.Level.trace, .debug, .info, .notice, .warning, .error, .critical].map {
            JournalLogHandler.priority(of: $0)
        }
        #expect(priorities == [7, 7, 6, 5, 4, 3, 2])
    }

    @Test("Metadata keys become field names journald accepts: upper case, A-Z 0-9 _ only, at most 64 characters")
    func fieldNames() {
        #expect(JournalLogHandler.fieldName(forMetadataKey: "job_id") == "FERRY_JOB_ID")
        #expect(JournalLogHandler.fieldName(forMetadataKey: "http.status-code") == "FERRY_HTTP_STATUS_CODE")
        #expect(JournalLogHandler.fieldName(forMetadataKey: "größe") == "FERRY_GR_SSE")
        let long = JournalLogHandler.fieldName(forMetadataKey: String(repeating: "k", count: 100))
        #expect(long.count == 64)
        #expect(long.hasPrefix("FERRY_KKK"))
    }

    @Test("JOURNAL_STREAM counts only when its device and inode are the stream's own")
    func journalStreamDetection() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-stream-\(UUID().uuidString)")
        try Data().write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let descriptor = open(file.path, O_RDONLY)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        var status = stat()
        try #require(fstat(descriptor, &status) == 0)

        #expect(JournalStream.matches("\(status.st_dev):\(status.st_ino)", descriptor: descriptor))
        #expect(!JournalStream.matches("\(status.st_dev):\(status.st_ino + 1)", descriptor: descriptor))
        #expect(!JournalStream.matches(nil, descriptor: descriptor))
        #expect(!JournalStream.matches("", descriptor: descriptor))
        #expect(!JournalStream.matches("8:1:2", descriptor: descriptor))
        #expect(!JournalStream.matches("\(status.st_dev):\(status.st_ino)", descriptor: -1))
        // A worker inherits the variable, but its standard error is a pipe: plain text for it.
        #expect(!JournalStream.isStandardErrorJournal(environment: ["JOURNAL_STREAM": "1:1"]))
    }

    @Test(
        "A record sent to a running journald reads back with its fields",
        .enabled(if: FileManager.default.fileExists(atPath: "/run/systemd/journal/socket"), "needs a running journald")
    )
    func readsBackFromTheJournal() async throws {
        let mark = UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let logger = Logger(label: "ferry-test") { label in
            JournalLogHandler(label: label, identifier: "ferry-test")
        }
        logger.warning("journal round trip", metadata: ["test_mark": "\(mark)", "job_id": "7"])
        var entry: [String: Any]?
        for _ in 0..<50 {
            let (status, output) = try ChildProcess.run(
                "journalctl", ["--output=json", "--no-pager", "FERRY_TEST_MARK=\(mark)"])
            if status == 0, let line = output.split(separator: "\n").first,
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            {
                entry = object
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let found = try #require(entry, "journald did not store the record")
        #expect(found["MESSAGE"] as? String == "journal round trip job_id=7 test_mark=\(mark)")
        #expect(found["PRIORITY"] as? String == "4")
        #expect(found["FERRY_JOB_ID"] as? String == "7")
        #expect(found["SYSLOG_IDENTIFIER"] as? String == "ferry-test")
    }
}

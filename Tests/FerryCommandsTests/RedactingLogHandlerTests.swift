import FerryCommands
import Logging
import Synchronization
import Testing

@Suite("Redacting log handler")
struct RedactingLogHandlerTests {
    /// Keeps what reaches it, as the terminal or the journal would write it.
    struct Capture: LogHandler {
        let sink: Sink
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        var metadataProvider: Logger.MetadataProvider?

        final class Sink: Sendable {
            let lines = Mutex<[String]>([])
        }

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let fields = self.metadata.merging(event.metadata ?? [:]) { $1 }
            let text =
                "\(event.message) "
                + fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                .joined(separator: " ")
            sink.lines.withLock { $0.append(text) }
        }
    }

    @Test("No record carries a URL's credentials: message, metadata and the logger's own metadata are redacted")
    func redactsEverything() {
        let sink = Capture.Sink()
        var logger = Logger(label: "test") { _ in RedactingLogHandler(wrapping: Capture(sink: sink)) }
        logger[metadataKey: "source"] = "https://u:own-secret@example.test/x"
        logger.warning(
            "fetching https://alice:pw-secret@example.test/a?X-Amz-Signature=sig-secret failed",
            metadata: [
                "url": "https://example.test/file/bot12:tg-secret/a.mp4",
                "urls": .array(["https://example.test/?token=tok-secret"]),
                "nested": .dictionary(["u": .stringConvertible("ftp://bob:ftp-secret@host/x")]),
            ])
        let lines = sink.lines.withLock { $0 }
        #expect(lines.count == 1)
        let line = lines.first ?? ""
        for secret in ["own-secret", "pw-secret", "sig-secret", "tg-secret", "tok-secret", "ftp-secret"] {
            #expect(!line.contains(secret), "\(line)")
        }
        #expect(line.contains("https://REDACTED@example.test/a?X-Amz-Signature=REDACTED failed"))
        #expect(line.contains("botREDACTED"))
    }
}

internal import CSystemd
import Foundation
public import Logging

/// A swift-log handler that writes each record to systemd's journal as structured fields, through
/// `sd_journal_sendv(3)`.
///
/// A record becomes `MESSAGE` (the message, then the metadata as `key=value`), `PRIORITY` (syslog numbering), `SYSLOG_IDENTIFIER`, the Swift call
/// site as `CODE_FILE`/`CODE_LINE`/`CODE_FUNC`, the logger's label as `FERRY_LOGGER`, and one
/// `FERRY_<KEY>` field per metadata key (`job_id` → `FERRY_JOB_ID`), so that
/// `journalctl -u ferry FERRY_JOB_ID=42` finds everything about one job.
///
/// Use it when ``JournalStream/isStandardErrorJournal(environment:)`` says standard error already
/// goes to the journal; on a terminal plain text reads better.
public struct JournalLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    private let label: String
    private let identifier: String
    private let derivedMetadata: @Sendable (Logger.Metadata) -> Logger.Metadata

    /// - Parameters:
    ///   - label: the logger's label, sent as `FERRY_LOGGER`.
    ///   - identifier: `SYSLOG_IDENTIFIER`, what `journalctl -t` selects by.
    ///   - metadataProvider: contributes metadata to every record, as swift-log defines.
    ///   - derivedMetadata: adds metadata computed from a record's own (an explicit key wins).
    public init(
        label: String, identifier: String, metadataProvider: Logger.MetadataProvider? = nil,
        derivedMetadata: @escaping @Sendable (Logger.Metadata) -> Logger.Metadata = { _ in [:] }
    ) {
        self.label = label
        self.identifier = identifier
        self.metadataProvider = metadataProvider
        self.derivedMetadata = derivedMetadata
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let own = event.metadata { merged.merge(own) { _, new in new } }
        merged.merge(derivedMetadata(merged)) { explicit, _ in explicit }
        let fields = Self.fields(
            level: event.level, message: event.message.description, metadata: merged, label: label,
            identifier: identifier, file: event.file, function: event.function, line: event.line)
        if Self.send(fields) != 0 {
            // The journal socket is gone (journald restarting): keep the record on standard error,
            // which systemd also connected to the journal.
            let line = "<\(Self.priority(of: event.level))>\(event.message)\n"
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    /// The journal fields of one record, each `NAME=value`, in the order they are sent.
    ///
    /// Metadata values keep their newlines: `sd_journal_sendv` encodes such fields in the
    /// protocol's binary form.
    public static func fields(
        level: Logger.Level, message: String, metadata: Logger.Metadata, label: String, identifier: String,
        file: String, function: String, line: UInt
    ) -> [String] {
        let keys = metadata.keys.sorted()
        // The metadata also goes into MESSAGE, as on a terminal: `journalctl -u ferry` shows the
        // message alone, and "worker exited" says little without which one.
        let details = keys.map { "\($0)=\(metadata[$0]!)" }.joined(separator: " ")
        var fields = [
            "MESSAGE=\(message)\(details.isEmpty ? "" : " " + details)", "PRIORITY=\(priority(of: level))",
            "SYSLOG_IDENTIFIER=\(identifier)",
            "CODE_FILE=\(file)", "CODE_LINE=\(line)", "CODE_FUNC=\(function)", "FERRY_LOGGER=\(label)",
        ]
        for key in keys {
            fields.append("\(fieldName(forMetadataKey: key))=\(metadata[key]!)")
        }
        return fields
    }

    /// The syslog priority journald files a level under (`journalctl -p`).
    public static func priority(of level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// The journal field for a metadata key: `FERRY_` and the key in upper case, every character
    /// journald does not allow in a field name (only `A-Z`, `0-9` and `_`) turned into `_`, at
    /// most 64 characters as journald requires.
    public static func fieldName(forMetadataKey key: String) -> String {
        let sanitized = key.uppercased().unicodeScalars.map { scalar -> Character in
            switch scalar {
            case "A"..."Z", "0"..."9": Character(scalar)
            default: "_"
            }
        }
        return String(("FERRY_" + String(sanitized)).prefix(64))
    }

    /// Sends the fields as one journal entry; answers 0 or a negative errno.
    private static func send(_ fields: [String]) -> Int32 {
        // One buffer holds every field back to back; the iovecs point into it.
        var bytes: [UInt8] = []
        var ranges: [Range<Int>] = []
        for field in fields {
            let start = bytes.count
            bytes.append(contentsOf: field.utf8)
            ranges.append(start..<bytes.count)
        }
        return bytes.withUnsafeMutableBytes { buffer in
            let vectors = ranges.map { range in
                iovec(iov_base: buffer.baseAddress.map { $0 + range.lowerBound }, iov_len: range.count)
            }
            return vectors.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        }
    }
}

/// How a download of a Telegram file names its source: `telegram://<bot>/<file_id>`. The record
/// keeps this, never the Bot API file URL, which contains the bot token; the download worker
/// builds that URL when it fetches.
public struct TelegramFileReference: Hashable, Sendable {
    public static let scheme = "telegram"

    public var bot: String
    public var fileID: String

    public init(bot: String, fileID: String) {
        self.bot = bot
        self.fileID = fileID
    }

    /// The download URL recorded for the file.
    public var url: String { "\(Self.scheme)://\(bot)/\(fileID)" }

    /// The reference a download URL names, or nil for any other URL.
    public init?(url: String) {
        let prefix = "\(Self.scheme)://"
        guard url.hasPrefix(prefix) else { return nil }
        let rest = url.dropFirst(prefix.count)
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        let bot = String(rest[..<slash])
        let fileID = String(rest[rest.index(after: slash)...])
        guard !bot.isEmpty, !fileID.isEmpty, !fileID.contains("/") else { return nil }
        self.init(bot: bot, fileID: fileID)
    }
}

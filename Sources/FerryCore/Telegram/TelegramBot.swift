/// A Telegram bot Ferry listens to (`telegram.bots.<name>`): where its Bot API is, who may send it
/// work and what happens to what arrives. It holds no secret: the token stays in `tokenFile`, read
/// by the worker that needs it, so settings can travel on a command line and into logs.
public struct TelegramBot: Hashable, Sendable, Codable {
    /// The public Bot API.
    public static let publicBaseURL = "https://api.telegram.org"
    /// The largest file the public Bot API lets a bot download (getFile refuses bigger ones).
    public static let publicDownloadLimit: Int64 = 20 << 20

    /// The name the configuration gives the bot; it names the bot in records, never its token.
    public var name: String
    /// A file holding the bot token (read when a worker starts polling or fetching).
    public var tokenFile: String
    /// The Bot API base URL: the public one, or a local Bot API server.
    public var baseURL: String = TelegramBot.publicBaseURL
    /// Chats allowed to send work; updates from any other chat are ignored and counted.
    public var allowedChats: [Int64] = []
    /// Targets every download that arrives through this bot is delivered to.
    public var uploadTargets: [String] = []
    /// Remove the local file once every upload of it has succeeded.
    public var deleteAfterUpload: Bool = false
    /// The working folder of a local Bot API server started with `--local`: getFile then answers an
    /// absolute path inside it, and files of any size are read from there. Empty: the public API.
    public var localFilesFolder: String = ""
    /// Answer each message in the chat: "queued", then edited to "done" or the error.
    public var replies: Bool = false

    public init(name: String, tokenFile: String) {
        self.name = name
        self.tokenFile = tokenFile
    }

    /// Whether the bot talks to a local Bot API server in `--local` mode.
    public var usesLocalServer: Bool { !localFilesFolder.isEmpty }
}

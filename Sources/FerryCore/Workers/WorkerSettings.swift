/// What a worker process needs from the configuration. The supervisor hands it to every worker it
/// starts (as JSON on the command line: it holds no secrets), so a worker runs with exactly the
/// settings its supervisor loaded, even if the file changed on disk since.
public struct WorkerSettings: Hashable, Sendable, Codable {
    public var downloads: DownloadSettings
    /// Where uploads go, by name.
    public var targets: [UploadTarget]
    /// The Telegram bots to poll and fetch files through (their tokens stay in their files).
    public var telegramBots: [TelegramBot]
    /// On a shared queue: the database that keeps Telegram's flood control for every node (the
    /// password is read where it says, never carried here). Nil: the state folder's file.
    public var sharedTelegramTurns: PostgresAccess?

    public init(
        downloads: DownloadSettings = DownloadSettings(), targets: [UploadTarget] = [],
        telegramBots: [TelegramBot] = []
    ) {
        self.downloads = downloads
        self.targets = targets
        self.telegramBots = telegramBots
    }
}

/// How downloads are fetched and what they may be.
public struct DownloadSettings: Hashable, Sendable, Codable {
    /// Longest wait for a connection to be set up.
    public var connectTimeout: Duration = .seconds(10)
    /// Longest silence from the origin while a response is expected or its body is flowing.
    public var idleTimeout: Duration = .seconds(30)
    /// Redirects followed before the download fails.
    public var maxRedirects: Int = 5
    /// The largest body accepted, in bytes (0: no limit).
    public var maxSize: Int64 = 100 << 30
    /// URL schemes a download may use (and redirect to).
    public var allowedSchemes: [String] = ["http", "https"]
    /// Free space the spool folder keeps: no download starts while it has less.
    public var spoolReserve: Int64 = 1 << 30
    /// Attempts whose content fails its size or SHA-256 check before the job fails for good.
    public var checksumAttempts: Int = 3
    /// The aria2 engine, for the schemes Ferry's own client does not fetch.
    public var aria2 = Aria2Settings()

    public init() {}
}

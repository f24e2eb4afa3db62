/// How the download worker runs aria2, the engine behind `ftp://`, `sftp://` and `magnet:`
/// downloads: which program, how long a finished torrent keeps seeding, and which ways of finding
/// peers beyond its trackers it may use.
public struct Aria2Settings: Hashable, Sendable, Codable {
    /// The aria2c program: a name on PATH or a path.
    public var program: String = "aria2c"
    /// Upload ratio a finished torrent seeds up to after its job has succeeded (0: no ratio limit).
    public var seedRatio: Double = 0
    /// Longest a finished torrent seeds after its job has succeeded (0: none, unless `seedRatio` is set).
    public var seedTime: Duration = .zero
    /// The BitTorrent DHT. Off by default: only trackers (and peers in the magnet) are asked.
    public var dht: Bool = false
    /// Local peer discovery (multicast on the local network). Off by default.
    public var localPeerDiscovery: Bool = false
    /// How often the worker compares its jobs with aria2's tasks, repairs differences and reports
    /// progress.
    public var reconcileInterval: Duration = .seconds(1)

    /// The schemes aria2 fetches; `http` and `https` stay with Ferry's own client.
    public static let schemes: Set<String> = ["ftp", "sftp", "magnet"]

    public init() {}
}

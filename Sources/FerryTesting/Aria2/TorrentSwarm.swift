import Foundation

/// A BitTorrent swarm on loopback (`torrent_swarm.py`): a tracker, a torrent of `content` made
/// with torf, and a second aria2c seeding it; no DHT, no local discovery.
public final class TorrentSwarm: Sendable {
    let server: ScriptServer
    public let magnet: String
    public let infoHash: String
    public let torrentFile: String
    public let torrentURL: String

    private struct Info: Decodable {
        var magnet: String
        var infoHash: String
        var torrent: String
        var torrentURL: String

        enum CodingKeys: String, CodingKey {
            case magnet, torrent
            case infoHash = "info_hash"
            case torrentURL = "torrent_url"
        }
    }

    /// - Parameter rate: the seeder's upload limit in bytes per second (nil: none).
    public init(content: String, work: String, rate: Int? = nil) throws {
        var arguments = [content, work, ScriptServer.readyFileArgument]
        if let rate { arguments += ["--rate", String(rate)] }
        server = try ScriptServer(script: "torrent_swarm.py", arguments: arguments)
        let info = try JSONDecoder().decode(Info.self, from: server.ready)
        magnet = info.magnet
        infoHash = info.infoHash
        torrentFile = info.torrent
        torrentURL = info.torrentURL
    }
}

import Crypto
import FerryCore
import Foundation

/// A download source aria2 fetches (`ftp://`, `sftp://`, `magnet:`), checked before aria2 sees it
/// so a malformed one fails at once with an error that says what is wrong.
struct Aria2Source: Hashable {
    var uri: String
    var scheme: String
    /// A magnet's info hash, lower-case hex.
    var infoHash: String?
    /// For ftp and sftp: the URL, to name the file after.
    var url: URL?
    /// A `.torrent` file sent through the API: its bytes, from `<state_dir>/torrents/`.
    var torrent: [UInt8]? = nil

    /// Whether aria2 fetches `spec`: when it asks for aria2, or by default for its scheme.
    static func handles(_ spec: DownloadSpec) -> Bool {
        if let engine = spec.engine { return engine == .aria2 }
        guard let colon = spec.url.firstIndex(of: ":") else { return false }
        return Aria2Settings.schemes.contains(spec.url[..<colon].lowercased())
    }

    /// The name aria2 saves a single-file source under (ftp, sftp); http(s) sources asked of
    /// aria2 are `.torrent` files and metalinks, which name their own files.
    func fileName(requested: String?) -> String? {
        guard let url, scheme == "ftp" || scheme == "sftp" else { return nil }
        return FileNames.forDownload(requested: requested, contentDisposition: nil, url: url)
    }

    /// `stateDirectory`: where uploaded `.torrent` files are kept (the only `file:` URLs taken).
    static func check(
        _ text: String, allowed: [String], stateDirectory: String? = nil
    ) throws(JobFailure)
        -> Aria2Source
    {
        guard let colon = text.firstIndex(of: ":") else {
            throw .permanent("bad_url", "'\(text)' is not a URL")
        }
        let scheme = text[..<colon].lowercased()
        if scheme == "file", let stateDirectory { return try uploaded(text, stateDirectory: stateDirectory) }
        guard allowed.contains(scheme) else {
            throw .permanent(
                "scheme_not_allowed",
                "the scheme '\(scheme)' is not allowed (downloads.allowed_schemes: \(allowed.joined(separator: ", ")))")
        }
        if scheme == "magnet" {
            return Aria2Source(uri: text, scheme: scheme, infoHash: try Magnet.infoHash(of: text), url: nil)
        }
        guard let url = URL(string: text), url.host?.isEmpty == false, !url.path.isEmpty, url.path != "/" else {
            throw .permanent("bad_url", "'\(text)' is not an absolute \(scheme) URL with a host and a file path")
        }
        return Aria2Source(uri: text, scheme: scheme, infoHash: nil, url: url)
    }
}

extension Aria2Source {
    /// A `.torrent` file the API stored (`<state_dir>/torrents/<sha256>.torrent`), read with its info hash.
    static func uploaded(_ text: String, stateDirectory: String) throws(JobFailure) -> Aria2Source {
        let folder = URL(fileURLWithPath: stateDirectory + "/torrents").standardizedFileURL.path + "/"
        guard let url = URL(string: text), url.isFileURL, url.standardizedFileURL.path.hasPrefix(folder),
            url.pathExtension == "torrent"
        else {
            throw .permanent("bad_url", "a file: URL names only a .torrent file sent through the API (\(text))")
        }
        guard let data = FileManager.default.contents(atPath: url.standardizedFileURL.path) else {
            throw .permanent("torrent_missing", "the uploaded .torrent file \(url.path) is gone; send it again")
        }
        let bytes = Array(data)
        let metainfo: TorrentMetainfo
        do {
            metainfo = try TorrentMetainfo.parse(bytes)
        } catch {
            throw .permanent("bad_torrent", error.description)
        }
        let hash = Insecure.SHA1.hash(data: bytes[metainfo.infoBytes]).map { String(format: "%02x", $0) }.joined()
        return Aria2Source(uri: text, scheme: "file", infoHash: hash, url: nil, torrent: bytes)
    }
}

/// Magnet links (BEP 9): only the BitTorrent info hash matters to Ferry.
enum Magnet {
    /// The `xt=urn:btih:` hash (40 hex digits, or 32 base32 characters) as lower-case hex.
    static func infoHash(of text: String) throws(JobFailure) -> String {
        guard let components = URLComponents(string: text), components.scheme?.lowercased() == "magnet",
            let topics = components.queryItems?.filter({ $0.name == "xt" }).compactMap(\.value), !topics.isEmpty
        else {
            throw .permanent("bad_magnet", "the magnet link has no exact topic (xt=urn:btih:…): \(text.prefix(200))")
        }
        for topic in topics where topic.lowercased().hasPrefix("urn:btih:") {
            let hash = topic.dropFirst("urn:btih:".count)
            if hash.count == 40, hash.allSatisfy(\.isHexDigit) { return hash.lowercased() }
            if hash.count == 32, let bytes = base32(String(hash)) {
                return bytes.map { String(format: "%02x", $0) }.joined()
            }
            throw .permanent(
                "bad_magnet", "the magnet link's info hash '\(hash)' is neither 40 hexadecimal nor 32 base32 characters"
            )
        }
        throw .permanent("bad_magnet", "the magnet link names no BitTorrent info hash (xt=urn:btih:…)")
    }

    /// RFC 4648 base32 without padding, as old magnet links write the info hash.
    static func base32(_ text: String) -> [UInt8]? {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var bits = 0
        var value = 0
        var bytes: [UInt8] = []
        for character in text.uppercased() {
            guard let index = alphabet.firstIndex(of: character) else { return nil }
            value = (value << 5) | index
            bits += 5
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8((value >> bits) & 0xFF))
            }
        }
        return bytes
    }
}

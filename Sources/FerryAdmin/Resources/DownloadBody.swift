import FerryCore
import Foundation

/// The body of `POST /api/downloads`: a `url`, or a `.torrent` file's bytes in base64 as `torrent`.
struct DownloadBody: APIBody {
    static let fields: Set<String> = [
        "url", "file_name", "size", "sha256", "upload_targets", "delete_after_upload", "priority", "max_attempts",
        "engine", "torrent",
    ]
    /// Room for a `.torrent` file of `TorrentMetainfo.maxFileSize` in base64, and the other fields.
    static let bodyLimit: Int? = TorrentMetainfo.maxFileSize / 3 * 4 + 64 * 1024

    /// Absent when the body carries a `torrent`.
    var url: String?
    /// A `.torrent` file in base64 (standard alphabet, padding optional).
    var torrent: String?
    var fileName: String?
    var size: Int64?
    var sha256: String?
    var uploadTargets: [String]?
    var deleteAfterUpload: Bool?
    var priority: Int?
    var maxAttempts: Int?
    /// `ferry` or `aria2`; absent: chosen by the URL's scheme.
    var engine: String?

    init(
        url: String?, fileName: String? = nil, size: Int64? = nil, sha256: String? = nil, uploadTargets: [String]? = nil
    ) {
        self.url = url
        self.fileName = fileName
        self.size = size
        self.sha256 = sha256
        self.uploadTargets = uploadTargets
    }

    /// The request the store takes, or the first thing wrong with the body, said plainly.
    /// `allowedSchemes` is `downloads.allowed_schemes` (ftp, sftp and magnet go through aria2).
    /// `storedTorrent`: for a body with a `torrent`, the `file://` URL it was stored under
    /// (`UploadedTorrent.store`), which becomes the job's url.
    func request(
        idempotencyKey: String?, knownTargets: Set<String>, allowedSchemes: [String] = ["http", "https"],
        storedTorrent: String? = nil
    ) throws(APIError) -> DownloadRequest {
        if torrent != nil {
            guard let storedTorrent else {
                throw .badRequest("invalid_torrent", "a .torrent file is taken only by POST /api/downloads")
            }
            return try request(
                url: storedTorrent, engine: .aria2, idempotencyKey: idempotencyKey, knownTargets: knownTargets)
        }
        guard let url else {
            throw .badRequest("missing_field", "the field url is required (or torrent, a .torrent file in base64)")
        }
        guard url.utf8.count <= 8192, let parsed = URLComponents(string: url), let scheme = parsed.scheme?.lowercased()
        else {
            throw .badRequest(
                "invalid_url", "url must be an absolute URL (http, https, ftp, sftp) with a host, or a magnet link")
        }
        if scheme == "magnet" {
            guard
                parsed.queryItems?.contains(where: { $0.name == "xt" && $0.value?.hasPrefix("urn:btih:") == true })
                    == true
            else {
                throw .badRequest("invalid_url", "a magnet link must name its info hash (xt=urn:btih:…)")
            }
        } else if parsed.host?.isEmpty != false {
            throw .badRequest("invalid_url", "url must be an absolute URL (http, https, ftp, sftp) with a host")
        }
        guard allowedSchemes.contains(scheme) else {
            throw .badRequest(
                "unsupported_scheme",
                "url uses \(scheme):, but only \(allowedSchemes.joined(separator: ", ")) are fetched (downloads.allowed_schemes)"
            )
        }
        let chosenEngine = try engine.map { text throws(APIError) -> DownloadEngine in
            guard let chosen = DownloadEngine(rawValue: text) else {
                throw .badRequest("invalid_engine", "engine must be ferry or aria2")
            }
            return chosen
        }
        if chosenEngine == .ferry && !(scheme == "http" || scheme == "https") {
            throw .badRequest(
                "invalid_engine", "Ferry's own client fetches only http and https; \(scheme): needs aria2")
        }
        return try request(url: url, engine: chosenEngine, idempotencyKey: idempotencyKey, knownTargets: knownTargets)
    }

    /// The uploaded `.torrent` file, read and checked (nil when the body names a url instead):
    /// malformed, over `maxSize` in total (`downloads.max_size`, 0: no limit) or naming a file
    /// outside its folder, it is refused with a 400 that says so.
    func torrentFile(maxSize: Int64) throws(APIError) -> (bytes: [UInt8], metainfo: TorrentMetainfo)? {
        guard let torrent else { return nil }
        guard url == nil else { throw .badRequest("invalid_url", "give either url or torrent, not both") }
        guard engine == nil || engine == DownloadEngine.aria2.rawValue else {
            throw .badRequest("invalid_engine", "a .torrent file is fetched by aria2 (engine aria2, or none)")
        }
        var text = torrent.filter { !$0.isWhitespace }
        text += String(repeating: "=", count: (4 - text.utf8.count % 4) % 4)
        guard let data = Data(base64Encoded: text) else {
            throw .badRequest("invalid_torrent", "torrent must be the .torrent file's bytes in base64")
        }
        let metainfo: TorrentMetainfo
        do {
            metainfo = try TorrentMetainfo.parse(Array(data))
        } catch .unsafePath(let path) {
            throw .badRequest("unsafe_path", TorrentProblem.unsafePath(path).description)
        } catch {
            throw .badRequest("invalid_torrent", error.description)
        }
        if maxSize > 0, metainfo.totalLength > maxSize {
            throw .badRequest(
                "too_large",
                "the torrent holds \(metainfo.totalLength) bytes, over the limit of \(maxSize) (downloads.max_size)")
        }
        return (Array(data), metainfo)
    }

    /// The checks of the fields besides the source.
    private func request(
        url: String, engine chosenEngine: DownloadEngine?, idempotencyKey: String?, knownTargets: Set<String>
    ) throws(APIError) -> DownloadRequest {
        if let fileName { try Self.check(fileName: fileName) }
        if let size, size < 0 { throw .badRequest("invalid_size", "size must be zero or more bytes") }
        if let sha256, !(sha256.count == 64 && sha256.allSatisfy(\.isHexDigit)) {
            throw .badRequest("invalid_sha256", "sha256 must be 64 hexadecimal characters")
        }
        let targets = uploadTargets ?? []
        if let unknown = targets.first(where: { !knownTargets.contains($0) }) {
            let known = knownTargets.isEmpty ? "none are configured yet" : knownTargets.sorted().joined(separator: ", ")
            throw .badRequest("unknown_target", "upload target \"\(unknown)\" is not configured (\(known))")
        }
        if Set(targets).count != targets.count {
            throw .badRequest("duplicate_target", "each upload target may be named once")
        }
        if let priority, !(-1000...1000).contains(priority) {
            throw .badRequest("invalid_priority", "priority must be between -1000 and 1000")
        }
        if let maxAttempts, !(1...100).contains(maxAttempts) {
            throw .badRequest("invalid_max_attempts", "max_attempts must be between 1 and 100")
        }
        if let idempotencyKey, idempotencyKey.isEmpty || idempotencyKey.utf8.count > 200 {
            throw .badRequest("invalid_idempotency_key", "Idempotency-Key must be 1 to 200 bytes")
        }
        return DownloadRequest(
            spec: DownloadSpec(
                url: url, fileName: fileName, expectedSize: size, expectedSHA256: sha256?.lowercased(),
                uploadTargets: targets, deleteAfterUpload: deleteAfterUpload ?? false, engine: chosenEngine),
            idempotencyKey: idempotencyKey, priority: priority ?? 0, maxAttempts: maxAttempts)
    }

    /// A file name is one path component a file system can hold: no separators, no `.`/`..`, no
    /// control characters, not too long.
    static func check(fileName: String) throws(APIError) {
        guard !fileName.isEmpty, fileName.utf8.count <= 255 else {
            throw .badRequest("invalid_file_name", "file_name must be 1 to 255 bytes")
        }
        guard fileName != ".", fileName != "..", !fileName.contains("/"), !fileName.contains("\\") else {
            throw .badRequest("invalid_file_name", "file_name must be a plain name, not a path")
        }
        guard !fileName.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .badRequest("invalid_file_name", "file_name must not contain control characters")
        }
    }
}

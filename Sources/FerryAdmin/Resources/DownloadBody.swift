import FerryCore
import Foundation

/// The body of `POST /api/downloads`.
struct DownloadBody: APIBody {
    static let fields: Set<String> = [
        "url", "file_name", "size", "sha256", "upload_targets", "delete_after_upload", "priority", "max_attempts",
        "engine",
    ]

    var url: String
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
        url: String, fileName: String? = nil, size: Int64? = nil, sha256: String? = nil, uploadTargets: [String]? = nil
    ) {
        self.url = url
        self.fileName = fileName
        self.size = size
        self.sha256 = sha256
        self.uploadTargets = uploadTargets
    }

    /// The request the store takes, or the first thing wrong with the body, said plainly.
    /// `allowedSchemes` is `downloads.allowed_schemes` (ftp, sftp and magnet go through aria2).
    func request(
        idempotencyKey: String?, knownTargets: Set<String>, allowedSchemes: [String] = ["http", "https"]
    ) throws(APIError) -> DownloadRequest {
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

import FerryCore
import Foundation

/// The body of `POST /api/downloads`.
struct DownloadBody: APIBody {
    static let fields: Set<String> = [
        "url", "file_name", "size", "sha256", "upload_targets", "delete_after_upload", "priority", "max_attempts",
    ]

    var url: String
    var fileName: String?
    var size: Int64?
    var sha256: String?
    var uploadTargets: [String]?
    var deleteAfterUpload: Bool?
    var priority: Int?
    var maxAttempts: Int?

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
    func request(idempotencyKey: String?, knownTargets: Set<String>) throws(APIError) -> DownloadRequest {
        guard url.utf8.count <= 8192, let parsed = URLComponents(string: url), let scheme = parsed.scheme?.lowercased(),
            let host = parsed.host, !host.isEmpty
        else {
            throw .badRequest("invalid_url", "url must be an absolute http or https URL with a host")
        }
        guard scheme == "http" || scheme == "https" else {
            throw .badRequest("unsupported_scheme", "url uses \(scheme):, but only http and https are fetched")
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
                uploadTargets: targets, deleteAfterUpload: deleteAfterUpload ?? false),
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

import Foundation

/// What a later attempt of a download needs to continue, kept in the job's record (as JSON) and
/// updated with every progress report: the bytes already on disk and the origin's validator, so
/// a retry asks only for the rest and only if the origin's copy is still the same.
struct DownloadResumeState: Codable, Hashable {
    /// Bytes of the partial file when last reported (the file on disk is what counts).
    var bytes: Int64 = 0
    /// A strong ETag of the origin's copy.
    var etag: String?
    /// The origin's Last-Modified, used when it has no strong ETag.
    var lastModified: String?
    /// Earlier attempts whose content failed its size or SHA-256 check.
    var checksumMismatches: Int = 0

    init() {}

    init(json: String?) {
        guard let json, let decoded = try? JSONDecoder().decode(Self.self, from: Data(json.utf8)) else { return }
        self = decoded
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "{}"
    }

    /// The value for If-Range: a strong ETag, else Last-Modified; nil when a resumed body could
    /// not be proven to belong to the same copy (then the download starts over).
    var ifRange: String? {
        if let etag, !etag.hasPrefix("W/") { return etag }
        return lastModified
    }

    /// Takes the validators of a fresh (200) response: the copy the partial file now holds.
    mutating func adoptValidators(etag: String?, lastModified: String?) {
        self.etag = etag
        self.lastModified = lastModified
    }
}

import FerryCore

/// What to do with an origin's answer to a download request, ranged or not. The rule that keeps
/// a partial file sound: bytes are appended only to a 206 whose Content-Range starts exactly at
/// the local size; a 200 replaces the partial file; anything else never lands in it.
enum RangeAnswer: Equatable {
    /// Append the body after the `localSize` bytes already on disk; `total` is the whole size.
    case append(total: Int64?)
    /// The body is the whole content: empty the partial file first.
    case replace(total: Int64?)
    /// The body is of no use: empty the partial file and ask again without a range.
    case askAgainWhole(reason: String)
    /// The request failed.
    case fail(JobFailure)

    static func decide(
        status: Int, contentRange: String?, contentLength: Int64?, localSize: Int64, askedForRange: Bool,
        retryAfter: Duration?, reasonPhrase: String
    ) -> RangeAnswer {
        switch status {
        case 200:
            // Without a range this is the normal answer; to a range request it means the origin's
            // copy changed (If-Range did not match) or it cannot serve ranges: start over.
            return .replace(total: contentLength)
        case 206:
            guard askedForRange, let range = ContentRange(contentRange) else {
                return .askAgainWhole(reason: "the origin sent a partial answer without a usable Content-Range")
            }
            guard range.first == localSize else {
                return .askAgainWhole(
                    reason: "the origin's partial answer starts at byte \(range.first), not at \(localSize)")
            }
            return .append(total: range.total)
        case 416 where askedForRange:
            return .askAgainWhole(reason: "the origin cannot serve from byte \(localSize) (416)")
        default:
            return .fail(HTTPStatusFailure.classify(status: status, reasonPhrase: reasonPhrase, retryAfter: retryAfter))
        }
    }
}

/// `Content-Range: bytes FIRST-LAST/TOTAL` (TOTAL may be `*`).
struct ContentRange: Equatable {
    var first: Int64
    var last: Int64
    var total: Int64?

    init?(_ header: String?) {
        guard let header, header.hasPrefix("bytes ") else { return nil }
        let spec = header.dropFirst(6).split(separator: "/", maxSplits: 1)
        guard spec.count == 2 else { return nil }
        let bounds = spec[0].split(separator: "-", maxSplits: 1)
        guard bounds.count == 2, let first = Int64(bounds[0]), let last = Int64(bounds[1]), first >= 0, last >= first
        else { return nil }
        self.first = first
        self.last = last
        if spec[1] == "*" {
            total = nil
        } else {
            guard let total = Int64(spec[1]), total > last else { return nil }
            self.total = total
        }
    }
}

/// The class of an unsuccessful HTTP status.
enum HTTPStatusFailure {
    /// 408, 429 and 5xx are worth retrying (after Retry-After when given); every other 4xx or
    /// unexpected status is not.
    static func classify(status: Int, reasonPhrase: String, retryAfter: Duration?) -> JobFailure {
        let message = "the origin answered \(status) \(reasonPhrase)"
        if status == 408 || status == 429 || status >= 500 {
            return .retryable("http_\(status)", message, retryAfter: retryAfter)
        }
        return .permanent("http_\(status)", message)
    }
}

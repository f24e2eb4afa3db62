import Crypto
import Foundation

/// AWS Signature Version 4 for S3 requests: the canonical request, the string to sign, the
/// derived signing key and the Authorization header. The payload's SHA-256 is signed too (sent
/// as x-amz-content-sha256), so the server refuses a body that changed on the way.
struct SigV4 {
    let accessKeyID: String
    let secretKey: String
    let region: String
    let service = "s3"

    /// The headers to add to a request: x-amz-date, x-amz-content-sha256 and Authorization.
    func sign(
        method: String, url: URL, headers: [(String, String)], payloadSHA256: String, date: Date = Date()
    ) -> [(String, String)] {
        let amzDate = Self.timestamp(date)
        let day = String(amzDate.prefix(8))
        var all = headers.map { ($0.0.lowercased(), $0.1.trimmingCharacters(in: .whitespaces)) }
        let host = url.port.map { "\(url.host ?? ""):\($0)" } ?? (url.host ?? "")
        all += [("host", host), ("x-amz-date", amzDate), ("x-amz-content-sha256", payloadSHA256)]
        all.sort { $0.0 < $1.0 }
        let signedHeaders = all.map(\.0).joined(separator: ";")
        let canonical = [
            method, Self.canonicalPath(url), Self.canonicalQuery(url),
            all.map { "\($0.0):\($0.1)\n" }.joined(), signedHeaders, payloadSHA256,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let toSign = ["AWS4-HMAC-SHA256", amzDate, scope, Self.hex(SHA256.hash(data: Data(canonical.utf8)))]
            .joined(separator: "\n")
        var key = SymmetricKey(data: Data("AWS4\(secretKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(toSign.utf8), using: key))
        return [
            ("x-amz-date", amzDate), ("x-amz-content-sha256", payloadSHA256),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=\(accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
            ),
        ]
    }

    /// The SHA-256 of an empty payload.
    static let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    static func timestamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }

    /// Each path segment percent-encoded once, as S3 expects (slashes kept).
    static func canonicalPath(_ url: URL) -> String {
        let path = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedPath ?? "/"
        return path.isEmpty ? "/" : path
    }

    /// Query parameters sorted by name, names and values encoded (`uploads` becomes `uploads=`).
    static func canonicalQuery(_ url: URL) -> String {
        guard let query = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedQuery, !query.isEmpty
        else { return "" }
        return query.split(separator: "&").map { pair -> (String, String) in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }
        .sorted { $0 < $1 }
        .map { "\($0.0)=\($0.1)" }
        .joined(separator: "&")
    }

    /// RFC 3986 encoding of one key segment: everything but unreserved characters.
    static func encodeSegment(_ segment: String) -> String {
        var allowed = CharacterSet.alphanumerics.intersection(
            .init(charactersIn: Unicode.Scalar(0)...Unicode.Scalar(127)))
        allowed.insert(charactersIn: "-._~")
        return segment.addingPercentEncoding(withAllowedCharacters: allowed) ?? segment
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}

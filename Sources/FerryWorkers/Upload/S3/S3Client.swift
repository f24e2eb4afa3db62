import AsyncHTTPClient
import FerryCore
import Foundation
import NIOCore
import NIOHTTP1

/// The few S3 calls an upload needs, signed with SigV4, path-style (`<endpoint>/<bucket>/<key>`)
/// so any S3-compatible server works without DNS per bucket.
struct S3Client {
    let settings: UploadTarget.S3
    let signer: SigV4
    let client: HTTPClient

    /// An answer that is not a success, with S3's error code when it sent one.
    struct Failure: Error {
        var status: Int
        var code: String
        var message: String

        var isNoSuchUpload: Bool { code == "NoSuchUpload" || (status == 404 && code.isEmpty) }

        /// A conditional write refused: the object is no longer as the upload saw it (412), another
        /// conditional write of the key is under way (409), or the object it was to replace is
        /// gone (404 under `If-Match`).
        var isConditionLost: Bool {
            status == 412 || code == "PreconditionFailed" || code == "ConditionalRequestConflict"
                || (status == 404 && code == "NoSuchKey")
        }

        /// Throttling, server trouble and timeouts are worth retrying; refusals are not.
        var jobFailure: JobFailure {
            let text = "S3 answered \(status) \(code): \(message)"
            if status >= 500 || status == 429 || status == 408 || code == "SlowDown" || code == "RequestTimeout" {
                return .retryable("s3_\(status)", text)
            }
            return .permanent("target_rejected", text + "; check the target's bucket, credentials and permissions")
        }
    }

    struct Answer {
        var status: Int
        var headers: HTTPHeaders
        var body: String
    }

    func url(key: String, query: String? = nil) -> URL {
        let base = settings.endpoint.hasSuffix("/") ? String(settings.endpoint.dropLast()) : settings.endpoint
        let path = key.split(separator: "/", omittingEmptySubsequences: false).map { SigV4.encodeSegment(String($0)) }
            .joined(separator: "/")
        return URL(string: "\(base)/\(settings.bucket)/\(path)" + (query.map { "?\($0)" } ?? ""))!
    }

    /// Sends one signed request; throws ``Failure`` for an unsuccessful status.
    @discardableResult
    func send(
        _ method: HTTPMethod, key: String, query: String? = nil, headers: [(String, String)] = [],
        body: ByteBuffer? = nil, sha256: String = SigV4.emptySHA256, timeout: Duration = .seconds(600)
    ) async throws -> Answer {
        let target = url(key: key, query: query)
        var request = HTTPClientRequest(url: target.absoluteString)
        request.method = method
        // Content-Length is the client's to set, so it is left out of the signature.
        for (name, value) in headers
            + signer.sign(
                method: method.rawValue, url: target, headers: headers, payloadSHA256: sha256)
        {
            request.headers.replaceOrAdd(name: name, value: value)
        }
        if let body { request.body = .bytes(body) }
        let response = try await client.execute(request, timeout: .seconds(timeout.components.seconds))
        let collected = try await response.body.collect(upTo: 1 << 20)
        let text = String(buffer: collected)
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            throw Failure(
                status: status, code: Self.element("Code", in: text) ?? "",
                message: Self.element("Message", in: text) ?? response.status.reasonPhrase)
        }
        // CompleteMultipartUpload can fail after a 200, with an error document as the body.
        if text.contains("<Error>") {
            throw Failure(
                status: 500, code: Self.element("Code", in: text) ?? "InternalError",
                message: Self.element("Message", in: text) ?? "an error document in a successful answer")
        }
        return Answer(status: status, headers: response.headers, body: text)
    }

    /// An object as a HEAD describes it.
    struct Object {
        var size: Int64
        /// The SHA-256 recorded in its metadata, when it has one.
        var sha256: String?
        var etag: String?

        func holds(size: Int64, sha256: String) -> Bool { self.size == size && self.sha256 == sha256 }
    }

    /// The object at `key`, or nil when there is none.
    func head(key: String) async throws -> Object? {
        do {
            let answer = try await send(.HEAD, key: key)
            return Object(
                size: answer.headers.first(name: "Content-Length").flatMap(Int64.init) ?? -1,
                sha256: answer.headers.first(name: "x-amz-meta-sha256"), etag: answer.headers.first(name: "ETag"))
        } catch let failure as Failure where failure.status == 404 {
            return nil
        }
    }

    /// XML text with its five predefined entities replaced (a key with `&` comes back as `&amp;`).
    static func unescapeXML(_ text: String) -> String {
        text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    /// The text of the first `<name>` element of an XML document.
    static func element(_ name: String, in xml: String) -> String? {
        guard let start = xml.range(of: "<\(name)>"),
            let end = xml.range(of: "</\(name)>", range: start.upperBound..<xml.endIndex)
        else { return nil }
        return String(xml[start.upperBound..<end.lowerBound])
    }
}

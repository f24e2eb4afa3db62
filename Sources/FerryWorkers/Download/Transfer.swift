import AsyncHTTPClient
import Crypto
import FerryCore
import Foundation
import NIOCore
import NIOHTTP1

/// One attempt's exchange with the origin: asks for the rest of the partial file when it can,
/// decides from the answer whether the body continues, replaces or never touches the file, and
/// streams it in while hashing, checking the size limit and reporting progress.
struct Transfer {
    struct Fetched {
        var digest: SHA256.Digest
        var finalURL: URL
        var contentDisposition: String?
        var contentType: String?
    }

    let url: URL
    let file: SpoolFile
    let settings: DownloadSettings
    let client: HTTPClient
    let progressInterval: Duration
    let report: @Sendable (JobProgress, String?) async -> Void

    /// After a failed attempt: keeps the partial file for the next attempt when it can be resumed
    /// (retryable, and its copy has a validator) and reports where it ends, so the job's record
    /// says so; otherwise deletes it.
    func settle(
        _ resume: inout DownloadResumeState, after error: any Error,
        report: @Sendable (JobProgress, String?) async -> Void
    ) async {
        let keep = (error as? JobFailure)?.isRetryable ?? true
        guard keep, resume.ifRange != nil, file.size > 0 else {
            file.discardFile()
            return
        }
        file.keepForLater()
        resume.bytes = file.size
        await report(JobProgress(bytesDone: file.size, bytesTotal: nil), resume.json)
    }

    func run(_ resume: inout DownloadResumeState) async throws -> Fetched {
        var askForRange = file.size > 0 && resume.ifRange != nil
        if !askForRange { try file.truncate() }
        // At most two requests: a ranged one whose answer is unusable is asked again whole.
        for _ in 0..<2 {
            var request = HTTPClientRequest(url: url.absoluteString)
            request.method = .GET
            request.headers.add(name: "User-Agent", value: "ferry/\(FerryVersion.current)")
            request.headers.add(name: "Accept-Encoding", value: "identity")
            if askForRange, let validator = resume.ifRange {
                request.headers.add(name: "Range", value: "bytes=\(file.size)-")
                request.headers.add(name: "If-Range", value: validator)
            }
            let response = try await client.execute(request, timeout: .hours(24))
            let finalURL = response.url ?? url
            if let scheme = finalURL.scheme?.lowercased(), !settings.allowedSchemes.contains(scheme) {
                throw JobFailure.permanent(
                    "scheme_not_allowed",
                    "the origin redirected to \(finalURL.absoluteString), whose scheme is not allowed")
            }
            let headers = response.headers
            let contentLength = headers.first(name: "Content-Length").flatMap(Int64.init)
            let answer = RangeAnswer.decide(
                status: Int(response.status.code), contentRange: headers.first(name: "Content-Range"),
                contentLength: contentLength, localSize: file.size, askedForRange: askForRange,
                retryAfter: RetryAfter.parse(headers.first(name: "Retry-After")),
                reasonPhrase: response.status.reasonPhrase)
            var hasher: SHA256
            let total: Int64?
            switch answer {
            case .fail(let failure):
                throw failure
            case .askAgainWhole:
                try file.truncate()
                askForRange = false
                continue
            case .replace(let whole):
                try file.truncate()
                resume.adoptValidators(
                    etag: headers.first(name: "ETag"), lastModified: headers.first(name: "Last-Modified"))
                resume.bytes = 0
                hasher = SHA256()
                total = whole
            case .append(let whole):
                hasher = try file.hashOfContent()
                total = whole
            }
            if settings.maxSize > 0, let total, total > settings.maxSize {
                throw JobFailure.permanent(
                    "too_large",
                    "the file is \(total) bytes, over the limit of \(settings.maxSize) (downloads.max_size)")
            }
            try await stream(response.body, into: &hasher, total: total, announced: contentLength, resume: &resume)
            return Fetched(
                digest: hasher.finalize(), finalURL: finalURL,
                contentDisposition: headers.first(name: "Content-Disposition"),
                contentType: headers.first(name: "Content-Type"))
        }
        throw JobFailure.retryable("bad_range_answer", "the origin answered a whole-file request like a ranged one")
    }

    private func stream(
        _ body: HTTPClientResponse.Body, into hasher: inout SHA256, total: Int64?, announced: Int64?,
        resume: inout DownloadResumeState
    ) async throws {
        let start = file.size
        let clock = ContinuousClock()
        var lastReport = clock.now
        for try await buffer in body {
            // A cancelled job (operator, stall, shutdown) stops at the next chunk: the body
            // stream itself does not end on cancellation, and a short body must never pass as whole.
            try Task.checkCancellation()
            try buffer.withUnsafeReadableBytes { bytes in
                try file.append(bytes)
                hasher.update(bufferPointer: bytes)
            }
            if settings.maxSize > 0, file.size > settings.maxSize {
                throw JobFailure.permanent(
                    "too_large", "the body grew past the limit of \(settings.maxSize) bytes (downloads.max_size)")
            }
            if clock.now - lastReport >= progressInterval {
                lastReport = clock.now
                resume.bytes = file.size
                await report(JobProgress(bytesDone: file.size, bytesTotal: total), resume.json)
            }
        }
        try Task.checkCancellation()
        resume.bytes = file.size
        if let announced, announced != file.size - start {
            await report(JobProgress(bytesDone: file.size, bytesTotal: total), resume.json)
            throw JobFailure.retryable(
                "truncated",
                "the origin announced \(announced) bytes but the connection ended after \(file.size - start)")
        }
        await report(JobProgress(bytesDone: file.size, bytesTotal: total ?? file.size), resume.json)
    }
}

/// Errors of the HTTP client, as job failures that say what happened.
enum TransferErrors {
    static func classify(_ error: any Error, host: String) -> JobFailure {
        if let failure = error as? JobFailure { return failure }
        if let client = error as? HTTPClientError {
            switch client {
            case .redirectLimitReached, .redirectCycleDetected:
                return .permanent(
                    "too_many_redirects", "\(host) redirected too often or in a cycle (downloads.max_redirects)")
            case .readTimeout:
                return .retryable("idle_timeout", "\(host) sent nothing for longer than downloads.idle_timeout")
            case .connectTimeout:
                return .retryable("connect_timeout", "no connection to \(host) within downloads.connect_timeout")
            case .remoteConnectionClosed:
                return .retryable("connection_closed", "\(host) closed the connection mid-transfer")
            default:
                break
            }
        }
        // NIO words a refused connect as "connection reset (error set): Connection refused",
        // which reads like a cut transfer; say what it is.
        if let io = error as? IOError, io.errnoCode == ECONNREFUSED {
            return .retryable(
                "connection_refused", "\(host) refused the connection: nothing listens there (is the server down?)")
        }
        return .retryable("network_error", "the transfer from \(host) failed: \(error)")
    }
}

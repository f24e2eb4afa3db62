public import AsyncHTTPClient
import Crypto
public import FerryCore
import Foundation
import NIOCore
import NIOHTTP1

/// Fetches a URL over HTTP or HTTPS into the download folder: streamed to a temporary file named
/// for the attempt, hashed on the way, checked against the expected size and SHA-256, fsynced and
/// renamed into place. Only then is the result reported, so a record never points at a partial file.
public struct DownloadExecutor: JobExecutor {
    public let kind = JobKind.download
    /// Where partial files live while they are being written.
    let spool: String
    /// Where finished downloads are kept, one folder per job.
    let destination: String
    let client: HTTPClient
    /// How often progress is reported.
    let progressInterval: Duration

    public init(stateDirectory: String, client: HTTPClient, progressInterval: Duration = .seconds(1)) {
        spool = stateDirectory + "/spool"
        destination = stateDirectory + "/downloads"
        self.client = client
        self.progressInterval = progressInterval
    }

    public func execute(
        _ assignment: SupervisorMessage.Assignment,
        report: @escaping @Sendable (JobProgress, String?) async -> Void
    ) async throws(JobFailure) -> JobResult {
        guard case .download(let spec) = assignment.payload else {
            throw .permanent("wrong_payload", "a download worker was given a \(assignment.payload.kind) job")
        }
        guard let url = URL(string: spec.url), let scheme = url.scheme?.lowercased(),
            ["http", "https"].contains(scheme)
        else {
            throw .permanent("bad_url", "'\(spec.url)' is not an http or https URL")
        }
        let lease = assignment.lease
        let folder = "\(destination)/\(lease.jobID)"
        for path in [spool, folder] {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw .retryable("file_error", "cannot create \(path): \(error.localizedDescription)")
            }
        }
        let file = try SpoolFile(path: "\(spool)/job-\(lease.jobID)-attempt-\(lease.attempt).part")
        do {
            let (size, digest) = try await fetch(url, into: file, expectedSize: spec.expectedSize, report: report)
            let sha256 = digest.map { String(format: "%02x", $0) }.joined()
            if let expected = spec.expectedSize, expected != size {
                throw JobFailure.retryable("size_mismatch", "received \(size) bytes, expected \(expected)")
            }
            if let expected = spec.expectedSHA256, expected.lowercased() != sha256 {
                throw JobFailure.retryable(
                    "checksum_mismatch", "SHA-256 \(sha256) differs from the expected \(expected)")
            }
            let final = "\(folder)/\(FileNames.forDownload(requested: spec.fileName, url: url))"
            try file.publish(as: final)
            return JobResult(location: final, size: size, sha256: sha256)
        } catch let failure as JobFailure {
            file.discardFile()
            throw failure
        } catch {
            file.discardFile()
            throw .retryable("network_error", "the transfer from \(url.host ?? spec.url) failed: \(error)")
        }
    }

    /// Streams the body into `file`, hashing it, and returns its size and digest.
    private func fetch(
        _ url: URL, into file: SpoolFile, expectedSize: Int64?,
        report: @escaping @Sendable (JobProgress, String?) async -> Void
    ) async throws -> (Int64, SHA256.Digest) {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .GET
        request.headers.add(name: "User-Agent", value: "ferry/\(FerryVersion.current)")
        let response = try await client.execute(request, timeout: .hours(24))
        try Self.check(response)
        let total = response.headers.first(name: "Content-Length").flatMap(Int64.init) ?? expectedSize
        var hasher = SHA256()
        var size: Int64 = 0
        let clock = ContinuousClock()
        var lastReport = clock.now
        for try await buffer in response.body {
            // A cancelled job (operator, stall, shutdown) stops at the next chunk: the body
            // stream itself does not end on cancellation, and a short body must never pass as whole.
            try Task.checkCancellation()
            try buffer.withUnsafeReadableBytes { bytes in
                try file.append(bytes)
                hasher.update(bufferPointer: bytes)
            }
            size += Int64(buffer.readableBytes)
            if clock.now - lastReport >= progressInterval {
                lastReport = clock.now
                await report(JobProgress(bytesDone: size, bytesTotal: total), nil)
            }
        }
        try Task.checkCancellation()
        if let announced = response.headers.first(name: "Content-Length").flatMap(Int64.init), announced != size {
            throw JobFailure.retryable(
                "truncated", "the server announced \(announced) bytes but the connection ended after \(size)")
        }
        await report(JobProgress(bytesDone: size, bytesTotal: size), nil)
        return (size, hasher.finalize())
    }

    /// Classifies an unsuccessful status: worth retrying (408, 429, 5xx, honouring Retry-After)
    /// or not (every other 4xx).
    static func check(_ response: HTTPClientResponse) throws(JobFailure) {
        let status = response.status.code
        guard !(200..<300).contains(status) else { return }
        let retryAfter = response.headers.first(name: "Retry-After").flatMap(Int64.init).map { Duration.seconds($0) }
        let message = "the server answered \(status) \(response.status.reasonPhrase)"
        if status == 408 || status == 429 || status >= 500 {
            throw .retryable("http_\(status)", message, retryAfter: retryAfter)
        }
        throw .permanent("http_\(status)", message)
    }
}

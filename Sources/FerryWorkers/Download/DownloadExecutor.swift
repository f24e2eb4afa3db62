public import AsyncHTTPClient
import Crypto
public import FerryCore
import Foundation
import NIOCore
import NIOHTTP1

/// Fetches a URL over HTTP or HTTPS into the download folder: streamed to a temporary file named
/// for the attempt, hashed on the way, checked against the expected size and SHA-256, fsynced and
/// renamed into place. Only then is the result reported, so a record never points at a partial
/// file. A retry continues the partial file with a Range request validated by If-Range.
public struct DownloadExecutor: JobExecutor {
    public let kind = JobKind.download
    /// Where partial files live while they are being written.
    let spool: String
    /// Where finished downloads are kept, one folder per job.
    let destination: String
    let client: HTTPClient
    let settings: DownloadSettings
    /// How often progress is reported.
    let progressInterval: Duration

    public init(
        stateDirectory: String, settings: DownloadSettings, client: HTTPClient,
        progressInterval: Duration = .seconds(1)
    ) {
        spool = stateDirectory + "/spool"
        destination = stateDirectory + "/downloads"
        self.settings = settings
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
        let url = try DownloadURL.check(spec.url, allowed: settings.allowedSchemes)
        let lease = assignment.lease
        let folder = "\(destination)/\(lease.jobID)"
        for path in [spool, folder] {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw .retryable("file_error", "cannot create \(path): \(error.localizedDescription)")
            }
        }
        let lock = try await JobFolderLock.acquire(folder)
        defer { withExtendedLifetime(lock) {} }
        var resume = DownloadResumeState(json: assignment.resumeState)
        let file = try SpoolFile.open(
            spool: spool, jobID: lease.jobID, attempt: lease.attempt, resuming: resume.ifRange != nil)
        let transfer = Transfer(
            url: url, spec: spec, file: file, settings: settings, client: client, progressInterval: progressInterval,
            report: report)
        do {
            let fetched = try await transfer.run(&resume)
            let sha256 = fetched.digest.map { String(format: "%02x", $0) }.joined()
            if let problem = Self.contentProblem(spec, size: file.size, sha256: sha256) {
                file.discardFile()
                resume = DownloadResumeState()
                resume.checksumMismatches = DownloadResumeState(json: assignment.resumeState).checksumMismatches + 1
                await report(JobProgress(bytesDone: 0, bytesTotal: spec.expectedSize), resume.json)
                if resume.checksumMismatches >= settings.checksumAttempts {
                    throw JobFailure.permanent(
                        problem.code,
                        "\(problem.message), \(resume.checksumMismatches) times: the origin keeps serving other content"
                    )
                }
                throw problem
            }
            let name = FileNames.forDownload(
                requested: spec.fileName, contentDisposition: fetched.contentDisposition, url: fetched.finalURL)
            try Task.checkCancellation()
            let final = "\(folder)/\(name)"
            let size = file.size
            try file.publish(as: final)
            return JobResult(location: final, size: size, sha256: sha256, contentType: fetched.contentType)
        } catch let failure as JobFailure {
            // A retryable failure keeps a resumable partial file for the next attempt.
            await settle(file, &resume, keep: failure.isRetryable, report: report)
            throw failure
        } catch is CancellationError {
            // Stopped on request: keep what we have for the next attempt.
            await settle(file, &resume, keep: true, report: report)
            throw .retryable("cancelled", "the attempt was stopped")
        } catch {
            await settle(file, &resume, keep: true, report: report)
            throw TransferErrors.classify(error, host: url.host ?? spec.url)
        }
    }

    /// Keeps the partial file for the next attempt when it can be resumed (its copy has a
    /// validator) and reports where it ends, so the job's record says so; otherwise deletes it.
    private func settle(
        _ file: SpoolFile, _ resume: inout DownloadResumeState, keep: Bool,
        report: @Sendable (JobProgress, String?) async -> Void
    ) async {
        guard keep, resume.ifRange != nil, file.size > 0 else {
            file.discardFile()
            return
        }
        file.keepForLater()
        resume.bytes = file.size
        await report(JobProgress(bytesDone: file.size, bytesTotal: nil), resume.json)
    }

    /// The HTTP client a download worker fetches with: the configured timeouts and redirect
    /// limit, bodies exactly as sent (the hash is of the file, not of a decompressed stream).
    static func clientConfiguration(_ settings: DownloadSettings, concurrency: Int) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: settings.maxRedirects == 0
                ? .disallow : .follow(max: settings.maxRedirects, allowCycles: false),
            timeout: .init(
                connect: .milliseconds(settings.connectTimeout.inMilliseconds),
                read: .milliseconds(settings.idleTimeout.inMilliseconds)))
        configuration.decompression = .disabled
        // The client keeps 8 connections per host by default; a worker running more jobs
        // than that against one origin would see the rest time out waiting for a connection.
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(8, concurrency))
        return configuration
    }

    /// A size or SHA-256 that differs from what the job asked for.
    static func contentProblem(_ spec: DownloadSpec, size: Int64, sha256: String) -> JobFailure? {
        if let expected = spec.expectedSize, expected != size {
            return .retryable("size_mismatch", "received \(size) bytes, expected \(expected)")
        }
        if let expected = spec.expectedSHA256, expected.lowercased() != sha256 {
            return .retryable("checksum_mismatch", "SHA-256 \(sha256) differs from the expected \(expected)")
        }
        return nil
    }
}

/// Checks a download URL before anything is fetched.
enum DownloadURL {
    static func check(_ text: String, allowed: [String]) throws(JobFailure) -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), url.host?.isEmpty == false else {
            throw .permanent("bad_url", "'\(text)' is not an absolute URL with a host")
        }
        guard allowed.contains(scheme) else {
            throw .permanent(
                "scheme_not_allowed",
                "the scheme '\(scheme)' is not allowed (downloads.allowed_schemes: \(allowed.joined(separator: ", ")))")
        }
        return url
    }
}

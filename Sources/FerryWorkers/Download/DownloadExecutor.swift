import AsyncHTTPClient
import Crypto
public import FerryCore
import Foundation
import NIOCore
import NIOHTTP1

/// Fetches a URL over HTTP or HTTPS into the download folder: streamed to a temporary file named
/// for the attempt, hashed on the way, checked against the expected size and SHA-256, fsynced and
/// renamed into place. Only then is the result reported, so a record never points at a partial
/// file. A retry continues the partial file with a Range request validated by If-Range.
/// `ftp:`, `sftp:` and `magnet:` sources, and any the job asks aria2 for, go to the worker's aria2.
public struct DownloadExecutor: JobExecutor {
    public let kind = JobKind.download
    /// Where finished downloads are kept, one folder per job.
    let destination: String
    let fetcher: Fetcher
    /// The bots whose files `telegram://` downloads name.
    let telegramBots: [TelegramBot]
    /// The aria2 engine, for the sources Ferry's own client does not fetch.
    let aria2: Aria2Download?

    init(
        stateDirectory: String, settings: DownloadSettings, client: HTTPClient,
        progressInterval: Duration = .seconds(1), telegramBots: [TelegramBot] = [], aria2: Aria2Engine? = nil
    ) {
        destination = stateDirectory + "/downloads"
        self.telegramBots = telegramBots
        fetcher = Fetcher(
            stateDirectory: stateDirectory, client: client, settings: settings, progressInterval: progressInterval)
        self.aria2 = aria2.map { Aria2Download(engine: $0, stateDirectory: stateDirectory, settings: settings) }
    }

    public func execute(
        _ assignment: SupervisorMessage.Assignment,
        report: @escaping @Sendable (JobProgress, String?) async -> Void
    ) async throws(JobFailure) -> JobResult {
        guard case .download(let spec) = assignment.payload else {
            throw .permanent("wrong_payload", "a download worker was given a \(assignment.payload.kind) job")
        }
        if let reference = TelegramFileReference(url: spec.url) {
            return try await TelegramFileDownload(executor: self, reference: reference).run(
                spec, assignment, report: report)
        }
        if Aria2Source.handles(spec) {
            guard let aria2 else { throw .permanent("no_engine", "this worker has no aria2 engine for \(spec.url)") }
            return try await aria2.execute(assignment, spec, report: report)
        }
        let url = try DownloadURL.check(spec.url, allowed: fetcher.settings.allowedSchemes)
        return try await fetch(url, spec, assignment, report: report)
    }

    /// Fetches `url` for the job, checks the content against the spec and publishes the file.
    func fetch(
        _ url: URL, _ spec: DownloadSpec, _ assignment: SupervisorMessage.Assignment,
        report: @escaping @Sendable (JobProgress, String?) async -> Void
    ) async throws(JobFailure) -> JobResult {
        let settings = fetcher.settings
        let folder = folder(of: assignment)
        let fetch = try await fetcher.fetch(url, for: assignment, lockingFolder: folder, report: report)
        defer { withExtendedLifetime(fetch.lock) {} }
        let (file, fetched, resume) = (fetch.file, fetch.response, fetch.resume)
        let sha256 = FileHashing.hex(fetched.digest)
        if let problem = Self.contentProblem(spec, size: file.size, sha256: sha256) {
            file.discardFile()
            var fresh = DownloadResumeState()
            fresh.checksumMismatches = resume.checksumMismatches + 1
            await report(JobProgress(bytesDone: 0, bytesTotal: spec.expectedSize), fresh.json)
            if fresh.checksumMismatches >= settings.checksumAttempts {
                throw .permanent(
                    problem.code,
                    "\(problem.message), \(fresh.checksumMismatches) times: the origin keeps serving other content")
            }
            throw problem
        }
        let name = FileNames.forDownload(
            requested: spec.fileName, contentDisposition: fetched.contentDisposition, url: fetched.finalURL)
        let final = "\(folder)/\(name)"
        let size = file.size
        guard !Task.isCancelled else {
            file.keepForLater()
            throw .retryable("cancelled", "the attempt was stopped")
        }
        try await file.publish(as: final, into: fetch.lock)
        return JobResult(location: final, size: size, sha256: sha256, contentType: fetched.contentType)
    }

    /// The job's own folder under the downloads folder.
    func folder(of assignment: SupervisorMessage.Assignment) -> String {
        "\(destination)/\(assignment.lease.jobID)"
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

public import AsyncHTTPClient
public import FerryCore
import Foundation

/// Keeps a generated video for good: fetches it from its temporary URL (resuming like a download),
/// checks that it is a non-empty video, and files it in a content-addressed store
/// (`<state>/videos/<aa>/<bb>/<sha256>`), so identical content is stored once whoever asks.
public struct VideoStoreExecutor: JobExecutor {
    public let kind = JobKind.video
    /// The content-addressed store.
    let store: String
    let fetcher: Fetcher

    public init(stateDirectory: String, settings: DownloadSettings, client: HTTPClient) {
        store = stateDirectory + "/videos"
        fetcher = Fetcher(stateDirectory: stateDirectory, client: client, settings: settings)
    }

    public func execute(
        _ assignment: SupervisorMessage.Assignment,
        report: @escaping @Sendable (JobProgress, String?) async -> Void
    ) async throws(JobFailure) -> JobResult {
        guard case .video(let video) = assignment.payload else {
            throw .permanent("wrong_payload", "a store worker was given a \(assignment.payload.kind) job")
        }
        let url = try DownloadURL.check(video.sourceURL, allowed: fetcher.settings.allowedSchemes)
        let incoming = "\(store)/incoming/\(assignment.lease.jobID)"
        let fetch = try await fetcher.fetch(url, for: assignment, lockingFolder: incoming, report: report)
        defer { withExtendedLifetime(fetch.lock) {} }
        let (file, fetched) = (fetch.file, fetch.response)
        let contentType = fetched.contentType ?? "application/octet-stream"
        guard file.size > 0, Self.isVideo(contentType) else {
            file.discardFile()
            throw .retryable(
                "not_a_video",
                "the temporary URL answered \(file.size) bytes of \(contentType), not a video; the link may have expired"
            )
        }
        let sha256 = FileHashing.hex(fetched.digest)
        let final = "\(store)/\(sha256.prefix(2))/\(sha256.dropFirst(2).prefix(2))/\(sha256)"
        let size = file.size
        do {
            try FileManager.default.createDirectory(
                atPath: (final as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        } catch {
            file.discardFile()
            throw .retryable("file_error", "cannot create the folder of \(final): \(error.localizedDescription)")
        }
        if let existing = try? FileHashing.sizeAndSHA256(of: final), existing.size == size, existing.sha256 == sha256 {
            // Stored before (by this video or an identical one): keep the one copy, made durable.
            file.discardFile()
            try FolderSync.syncExisting(final)
        } else {
            try file.publish(as: final)
        }
        // `<aa>/<bb>/` may both be new: the store's own entry for `<aa>` is flushed too.
        let outer = ((final as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
        try FolderSync.sync(outer)
        rmdir(incoming)
        return JobResult(location: final, size: size, sha256: sha256, contentType: contentType)
    }

    /// A media type a generated video may come as.
    static func isVideo(_ contentType: String) -> Bool {
        let type = contentType.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        return type.hasPrefix("video/") || type == "application/octet-stream" || type == "application/mp4"
    }
}

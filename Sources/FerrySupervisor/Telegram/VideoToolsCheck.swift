import FerryCore
import Foundation
import Logging

/// Telegram targets that send `as: video` describe each video (duration, size, thumbnail) with
/// `ffprobe` and `ffmpeg` from Debian's `ffmpeg` package when they are on PATH; without them the
/// videos still go, undescribed. The upload workers cannot say so where anyone reads it (their
/// standard error is kept for crash reports), so the supervisor says it once, at start-up.
enum VideoToolsCheck {
    /// The `as: video` targets, when one of the tools is missing from `path`; empty otherwise.
    static func undescribedTargets(_ targets: [UploadTarget], path: String?) -> [String] {
        let videoTargets = targets.filter { $0.telegram?.sendAs == .video }.map(\.name).sorted()
        guard !videoTargets.isEmpty else { return [] }
        let folders = (path ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        let found = ["ffprobe", "ffmpeg"].allSatisfy { tool in
            folders.contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
        }
        return found ? [] : videoTargets
    }

    static func warnIfMissing(_ targets: [UploadTarget], logger: Logger) {
        let undescribed = undescribedTargets(targets, path: ProcessInfo.processInfo.environment["PATH"])
        guard !undescribed.isEmpty else { return }
        logger.warning(
            "ffprobe and ffmpeg are not on PATH: videos go to these Telegram targets without duration, size and thumbnail; install Debian's ffmpeg package",
            metadata: ["targets": "\(undescribed.joined(separator: ", "))"])
    }
}

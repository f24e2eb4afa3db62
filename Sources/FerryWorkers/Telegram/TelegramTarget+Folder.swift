import FerryCore
import Foundation

extension TelegramTarget {
    /// What a folder's sends left behind: each file's message, by its path in the folder.
    struct SentFolder: JSONResumeState {
        var files: [String: Sent] = [:]
    }

    /// A folder result (a torrent of several files): each file is sent as a message of its own, in
    /// the manifest's order (by path), with the same "once" as a single file: each answer is
    /// reported in the resume state the moment it arrives, so a later attempt sends only the
    /// files no answer was recorded for; an attempt that died while sending ends the next one
    /// `telegram_answer_lost` at once. A file too big for the bot's Bot API server fails the folder
    /// before anything is sent. The result names every message, in order.
    func deliverFolder(
        _ spec: UploadSpec, resumeState: String?, report: @escaping @Sendable (JobProgress, String?) async -> Void
    ) async throws(JobFailure) -> JobResult {
        let manifest = try FolderManifest.of(spec)
        var sent = SentFolder(json: resumeState) ?? SentFolder()
        let missing = manifest.entries.filter { sent.files[$0.path] == nil }
        if !missing.isEmpty, let earlier = marker?.interruptedAttempt() {
            marker?.remove()
            throw .retryable(
                "telegram_answer_lost",
                "attempt \(earlier) ended while it was sending a file of the folder, so Telegram may have it; it is sent again"
            )
        }
        // A file the Bot API would refuse fails the folder before any of it is sent.
        if let refusal = missing.lazy.compactMap({ tooBig($0.path, size: $0.size) }).first { throw refusal }
        if !missing.isEmpty {
            let api = BotAPIClient(bot: bot, token: try BotToken.read(for: bot), client: client)
            var done = manifest.size - missing.reduce(0) { $0 + $1.size }
            for entry in missing {
                let file = UploadSpec(
                    downloadID: spec.downloadID, target: spec.target, sourcePath: "\(spec.sourcePath)/\(entry.path)",
                    sourceSize: entry.size, sourceSHA256: entry.sha256)
                let before = done
                sent.files[entry.path] = try await send(file, as: entry.path, api) {
                    await report(JobProgress(bytesDone: before, bytesTotal: manifest.size, waiting: true), nil)
                }
                done += entry.size
                await report(JobProgress(bytesDone: done, bytesTotal: manifest.size), sent.json)
                marker?.remove()
            }
        }
        marker?.remove()
        let messages = manifest.entries.compactMap { sent.files[$0.path]?.messageID }.map(String.init)
        return JobResult(
            location: "telegram://\(bot.name)/?chat=\(settings.chatID)&messages=\(messages.joined(separator: ","))",
            size: manifest.size, sha256: manifest.sha256)
    }
}

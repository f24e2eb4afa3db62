import FerryCore
import Foundation

/// What a bot with `replies` says in the chat about a download that came from it, as the job
/// stands now: "queued", then "done" with the size and where it went, or the error.
struct TelegramReplies {
    let store: any JobStore
    let bots: [TelegramBot]

    /// Whether any bot answers in its chats (else nothing here is worth a read).
    var anyBotReplies: Bool { bots.contains(where: \.replies) }

    /// The reply about `job`, or nil when it did not come through a bot that replies, or when it
    /// has no reply to edit yet and `posting` is false.
    func reply(about job: JobID, posting: Bool = false) async -> TelegramReply? {
        guard anyBotReplies,
            var reply = try? await store.telegramReply(for: job),
            bots.contains(where: { $0.name == reply.bot && $0.replies }),
            posting || reply.replyMessageID != nil,
            let record = try? await store.job(job),
            case .download(let spec) = try? await store.payload(of: job)
        else { return nil }
        reply.text = Self.text(record, spec)
        return reply
    }

    static func text(_ job: Job, _ spec: DownloadSpec) -> String {
        let name = job.result.map { ($0.location as NSString).lastPathComponent } ?? spec.fileName ?? spec.url
        switch job.state {
        case .succeeded:
            let size = String(format: "%.1f MB", Double(job.result?.size ?? 0) / 1_048_576)
            let targets = spec.uploadTargets.isEmpty ? "" : ", to \(spec.uploadTargets.joined(separator: ", "))"
            return "done: \(name), \(size)\(targets)"
        case .failed: return "failed: \(name): \(job.lastError?.message ?? "unknown error")"
        case .cancelled: return "cancelled: \(name)"
        default: return "queued: \(name)"
        }
    }
}

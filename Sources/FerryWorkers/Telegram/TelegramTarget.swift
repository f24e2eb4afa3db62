import AsyncHTTPClient
import FerryCore
import Foundation

/// A `telegram` target: the file is sent to a chat by a configured bot, once.
///
/// The Bot API has no idempotency key, so "once" rests on two things: the sent message's id and
/// file_id are reported (as the attempt's resume state, then as its result) the moment they
/// arrive, and an attempt that finds them recorded returns them without sending again. The one
/// gap the API leaves — the connection broke after Telegram took the file, so no answer came —
/// ends the attempt as `telegram_answer_lost`; the next attempt sends again and the supervisor
/// counts it in `/metrics` (`ferry_telegram_resends_total`). An attempt that died while sending
/// (its worker or the supervisor killed) leaves a ``TelegramSendMarker``; the next attempt then
/// ends `telegram_answer_lost` at once, counted the same way, and the one after sends.
struct TelegramTarget {
    /// The largest file the public Bot API takes from a bot.
    static let publicUploadLimit: Int64 = 50 << 20
    /// The largest file a local Bot API server in `--local` mode takes.
    static let localUploadLimit: Int64 = 2000 << 20
    /// The longest flood-control wait spent inside an attempt; a longer one is a scheduled retry.
    static let longestWaitInAttempt: Duration = .seconds(60)

    let settings: UploadTarget.Telegram
    let bot: TelegramBot
    let client: HTTPClient
    let pacer: TelegramSendPacer
    /// Where the attempt says it is sending (nil: nowhere, as in a test's executor).
    let marker: TelegramSendMarker?

    /// What a send left behind: enough to answer for it without sending again.
    struct Sent: JSONResumeState {
        var messageID: Int64
        var fileID: String?

        init(messageID: Int64, fileID: String?) {
            self.messageID = messageID
            self.fileID = fileID
        }
    }

    func deliver(
        _ spec: UploadSpec, resumeState: String?, report: @escaping @Sendable (JobProgress, String?) async -> Void
    ) async throws(JobFailure) -> JobResult {
        if let sent = Sent(json: resumeState) {
            marker?.remove()
            return result(sent, spec)
        }
        if let earlier = marker?.interruptedAttempt() {
            marker?.remove()
            throw .retryable(
                "telegram_answer_lost",
                "attempt \(earlier) ended while it was sending the file, so Telegram may have it; it is sent again")
        }
        let token = try BotToken.read(for: bot)
        let api = BotAPIClient(bot: bot, token: token, client: client)
        let sent = try await send(spec, as: (spec.sourcePath as NSString).lastPathComponent, api) {
            await report(JobProgress(bytesDone: 0, bytesTotal: spec.sourceSize, waiting: true), nil)
        }
        await report(JobProgress(bytesDone: spec.sourceSize, bytesTotal: spec.sourceSize), sent.json)
        marker?.remove()
        return result(sent, spec)
    }

    /// Sends one file, named `name`, waiting for the chat's turn (`waiting` is called about every
    /// second meanwhile) and waiting out flood control within the attempt. The send's marker is
    /// left for the caller to remove once it has reported the answer.
    func send(
        _ file: UploadSpec, as name: String, _ api: BotAPIClient, waiting: @escaping @Sendable () async -> Void
    ) async throws(JobFailure) -> Sent {
        if let refusal = tooBig(name, size: file.sourceSize) { throw refusal }
        let field = settings.sendAs.rawValue
        var body = MultipartFileBody(
            fields: [("chat_id", String(settings.chatID)), ("caption", caption(file, name: name))], fileField: field,
            fileName: (name as NSString).lastPathComponent, path: file.sourcePath, size: file.sourceSize)
        if settings.sendAs == .video, let video = await VideoProbe.read(file.sourcePath) {
            Self.describe(video, in: &body)
        }
        while true {
            await pacer.waitForTurn(bot: bot.name, chat: settings.chatID, stillWaiting: waiting)
            // Stopped while it waited: nothing was sent, so no marker may say a send was under way.
            if Task.isCancelled { throw .retryable("cancelled", "the upload was stopped before its turn to send") }
            marker?.write()
            do {
                let message = try await api.call(
                    "send" + field.prefix(1).uppercased() + field.dropFirst(), body: body.body(),
                    contentType: body.contentType, as: BotAPI.SentMessage.self, timeout: .seconds(3600))
                return Sent(messageID: message.messageId, fileID: message.fileID(field))
            } catch {
                // A stopped attempt whose send went unanswered leaves its marker to the next one;
                // otherwise the send is settled: answered, or counted as a lost answer right here.
                if !(error.status == nil && Task.isCancelled) { marker?.remove() }
                // Flood control is a wait, not an error: the same attempt sends again after it.
                if let wait = error.retryAfter, wait <= Self.longestWaitInAttempt {
                    await pacer.hold(bot: bot.name, chat: settings.chatID, for: wait)
                    continue
                }
                throw Self.failure(error)
            }
        }
    }

    /// The refusal of a file bigger than the bot's Bot API server takes, or nil.
    func tooBig(_ name: String, size: Int64) -> JobFailure? {
        guard size > (bot.usesLocalServer ? Self.localUploadLimit : Self.publicUploadLimit) else { return nil }
        let megabytes = ByteCount.mebibytes(size)
        return .permanent(
            "telegram_file_too_big",
            bot.usesLocalServer
                ? "\(name) is \(megabytes) MB; a local Bot API server takes files of at most 2000 MB from bots"
                : "\(name) is \(megabytes) MB; the public Bot API takes files of at most 50 MB from bots. To send bigger ones (up to 2000 MB), run a local Bot API server (telegram-bot-api --local) and set telegram.bots.\(bot.name).base_url and local_files_folder"
        )
    }

    /// Adds a video's duration, size and thumbnail to its `sendVideo` (the thumbnail as a part of
    /// its own, named by `attach://`), so the chat shows it as a playable video before it loads.
    static func describe(_ video: VideoMetadata, in body: inout MultipartFileBody) {
        body.fields += [
            ("duration", String(video.duration)), ("width", String(video.width)), ("height", String(video.height)),
            ("supports_streaming", "true"),
        ]
        if let thumbnail = video.thumbnail {
            body.fields.append(("thumbnail", "attach://thumbnail"))
            body.attachments.append(
                .init(field: "thumbnail", fileName: "thumbnail.jpg", contentType: "image/jpeg", bytes: thumbnail))
        }
    }

    /// The upload's result: where the file now is in Telegram, with the download's size and hash.
    private func result(_ sent: Sent, _ spec: UploadSpec) -> JobResult {
        var location = "telegram://\(bot.name)/\(sent.fileID ?? "")?chat=\(settings.chatID)&message=\(sent.messageID)"
        if sent.fileID == nil { location = "telegram://\(bot.name)/?chat=\(settings.chatID)&message=\(sent.messageID)" }
        return JobResult(location: location, size: spec.sourceSize, sha256: spec.sourceSHA256)
    }

    private func caption(_ spec: UploadSpec, name: String) -> String {
        settings.caption.replacingOccurrences(of: "{file_name}", with: name)
            .replacingOccurrences(of: "{size}", with: String(spec.sourceSize))
            .replacingOccurrences(of: "{download_id}", with: String(spec.downloadID.rawValue))
            .replacingOccurrences(of: "{sha256}", with: spec.sourceSHA256)
    }

    static func failure(_ error: BotAPIClient.Failure) -> JobFailure {
        if error.status == nil {
            return error.mayHaveArrived
                ? .retryable(
                    "telegram_answer_lost",
                    "the connection broke after the file was sent, so Telegram may have it; it is sent again (\(error.description))"
                )
                : .retryable("network_error", error.description)
        }
        if error.isRetryable {
            return .retryable(
                error.status.map { "telegram_\($0)" } ?? "network_error",
                "Telegram refused the send for now: \(error.description)",
                retryAfter: error.retryAfter)
        }
        return .permanent("telegram_send_refused", "Telegram refused the file: \(error.description)")
    }
}

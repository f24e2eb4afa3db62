import FerryCore
import Foundation

/// A job as the API shows it: stable field names, independent of how the store keeps it, and
/// every URL and message with the credentials it may carry redacted (``SecretRedaction``).
struct JobResource: Encodable {
    struct Progress: Encodable {
        var bytesDone: Int64
        var bytesTotal: Int64?
    }

    struct Failure: Encodable {
        var code: String
        var message: String
        var retryable: Bool
    }

    struct Result: Encodable {
        var location: String
        var size: Int64
        var sha256: String
        var contentType: String?
    }

    var id: Int64
    var kind: String
    var state: String
    var stateCause: String
    var stateReason: String?
    var idempotencyKey: String?
    var priority: Int
    var attempt: Int
    var maxAttempts: Int
    var owner: String?
    var createdAt: Date
    var updatedAt: Date
    var dueAt: Date
    var startedAt: Date?
    var finishedAt: Date?
    var cleanedAt: Date?
    var progress: Progress
    var lastError: Failure?
    var result: Result?
    /// What the job works on (URL, targets, …); only on a single job's page.
    var input: Input?
    /// The chat and message a download that came through a Telegram bot came from.
    var telegram: Telegram?
    /// On PostgreSQL: the node holding the job's file (its uploads and clean-up run there).
    var node: String?
    /// A running job waiting for its turn under a rate limit (a Telegram chat's flood control):
    /// how long it has waited, in seconds. It holds its worker's slot and moves no bytes meanwhile.
    var waitingForTurnSeconds: Double?
    /// An upload to a target that takes one upload at a time (Telegram): the target's name. A
    /// queued upload with a lane waits while another upload of the lane runs.
    var lane: String?

    struct Telegram: Encodable {
        var bot: String
        var chatId: Int64
        var messageId: Int64
        var updateId: Int64
        var mediaKind: String
        var fileId: String?
        var fileUniqueId: String?
        var fileName: String?
        var mimeType: String?
        var fileSize: Int64?

        init(_ source: TelegramSource) {
            bot = source.bot
            chatId = source.chatID
            messageId = source.messageID
            updateId = source.updateID
            mediaKind = source.item.kind.rawValue
            fileId = source.item.fileID
            fileUniqueId = source.item.fileUniqueID
            fileName = source.item.fileName
            mimeType = source.item.mimeType
            fileSize = source.item.fileSize
        }
    }

    init(
        _ job: Job, payload: JobPayload? = nil, telegram: TelegramSource? = nil, node: String? = nil,
        waitingForTurn: Duration? = nil
    ) {
        self.telegram = telegram.map(Telegram.init)
        self.node = node
        waitingForTurnSeconds = job.state == .running ? waitingForTurn.map { $0.inSeconds.rounded(toPlaces: 1) } : nil
        id = job.id.rawValue
        kind = job.kind.rawValue
        state = job.state.rawValue
        stateCause = job.stateCause
        stateReason = job.stateReason.map(SecretRedaction.text)
        idempotencyKey = job.idempotencyKey
        priority = job.priority
        attempt = job.attempt
        maxAttempts = job.maxAttempts
        owner = job.owner?.rawValue
        createdAt = job.createdAt
        updatedAt = job.updatedAt
        dueAt = job.dueAt
        startedAt = job.startedAt
        finishedAt = job.finishedAt
        cleanedAt = job.cleanedAt
        lane = job.lane
        progress = Progress(bytesDone: job.progress.bytesDone, bytesTotal: job.progress.bytesTotal)
        lastError = job.lastError.map {
            Failure(code: $0.code, message: SecretRedaction.text($0.message), retryable: $0.isRetryable)
        }
        result = job.result.map {
            Result(
                location: SecretRedaction.url($0.location), size: $0.size, sha256: $0.sha256,
                contentType: $0.contentType)
        }
        input = payload.map(Input.init)
    }

    /// The payload, flattened per kind.
    struct Input: Encodable {
        var url: String?
        var fileName: String?
        var expectedSize: Int64?
        var expectedSha256: String?
        var uploadTargets: [String]?
        var deleteAfterUpload: Bool?
        /// `aria2` when the download was asked to go through aria2.
        var engine: String?
        var downloadId: Int64?
        var target: String?
        var userId: String?
        var externalRequestId: String?
        /// The caller's metadata of a video, as the JSON text it sent.
        var metadata: String?

        init(_ payload: JobPayload) {
            switch payload {
            case .download(let spec):
                url = SecretRedaction.url(spec.url)
                fileName = spec.fileName
                expectedSize = spec.expectedSize
                expectedSha256 = spec.expectedSHA256
                uploadTargets = spec.uploadTargets
                deleteAfterUpload = spec.deleteAfterUpload
                engine = spec.engine?.rawValue
            case .upload(let spec):
                downloadId = spec.downloadID.rawValue
                target = spec.target
            case .video(let spec):
                url = SecretRedaction.url(spec.sourceURL)
                userId = spec.userID
                externalRequestId = spec.externalRequestID
                metadata = spec.metadata
            }
        }
    }
}

/// One line of a job's event log: on a job's page and, as `job` events, on the event stream.
struct EventResource: Encodable {
    /// The event's place in the log; the stream's `Last-Event-ID`.
    var id: Int64
    var jobId: Int64
    var at: Date
    var from: String?
    var to: String
    var cause: String
    var reason: String?
    var owner: String?
    var attempt: Int

    init(_ event: JobEvent) {
        id = event.id
        jobId = event.jobID.rawValue
        at = event.at
        from = event.from?.rawValue
        to = event.to.rawValue
        cause = event.cause
        reason = event.reason.map(SecretRedaction.text)
        owner = event.owner?.rawValue
        attempt = event.attempt
    }
}

/// A page of jobs, newest first; `next_before` fetches the following page.
struct JobPage: Encodable {
    var jobs: [JobResource]
    var nextBefore: Int64?
}

public import AsyncHTTPClient
public import FerryCore
import Foundation

/// Delivers a finished download to one configured target. The object's name is fixed by the
/// download (`<download id>/<file name>`), so delivering the same download to the same target
/// again replaces the one object instead of creating a second.
public struct UploadExecutor: JobExecutor {
    public let kind = JobKind.upload
    let targets: [String: UploadTarget]
    /// For object-storage and Telegram targets.
    let client: HTTPClient
    /// The bots `telegram` targets send through.
    let telegramBots: [TelegramBot]
    /// Spaces the sends to Telegram chats with every other process's.
    let telegramPacer: TelegramSendPacer
    /// Where Telegram sends in progress are marked (``TelegramSendMarker``).
    let stateDirectory: String?
    /// The S3 servers found without conditional writes, for every upload of this process.
    let s3Conditions = S3ConditionSupport()

    /// - Parameter stateDirectory: where the Telegram send turns every process shares are kept;
    ///   nil paces this executor's sends alone.
    ///   `sharedTelegramTurns`: on a shared queue, the database where every node's turns are kept.
    public init(
        targets: [UploadTarget], client: HTTPClient, telegramBots: [TelegramBot] = [], stateDirectory: String? = nil,
        sharedTelegramTurns: PostgresAccess? = nil
    ) {
        self.targets = Dictionary(targets.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.client = client
        self.telegramBots = telegramBots
        telegramPacer = TelegramSendPacer(stateDirectory: stateDirectory, shared: sharedTelegramTurns)
        self.stateDirectory = stateDirectory
    }

    public func execute(
        _ assignment: SupervisorMessage.Assignment,
        report: @escaping @Sendable (JobProgress, String?) async -> Void
    ) async throws(JobFailure) -> JobResult {
        guard case .upload(let spec) = assignment.payload else {
            throw .permanent("wrong_payload", "an upload worker was given a \(assignment.payload.kind) job")
        }
        guard let target = targets[spec.target] else {
            throw .permanent(
                "unknown_target",
                "upload target \"\(spec.target)\" is not in the configuration (targets.\(spec.target))")
        }
        guard FileManager.default.fileExists(atPath: spec.sourcePath) else {
            throw .permanent("source_missing", "the downloaded file \(spec.sourcePath) is gone; retry the download")
        }
        let objectName = "\(spec.downloadID)/\((spec.sourcePath as NSString).lastPathComponent)"
        // A folder result (a torrent of several files) goes as one folder, every file in it, to
        // the targets that hold folders.
        let isFolder = FolderManifest.isFolder(spec.sourcePath)
        switch target.kind {
        case .dir:
            let directory = DirectoryTarget(root: target.path)
            return isFolder
                ? try await directory.deliverFolder(spec, as: objectName, attempt: assignment.lease, report: report)
                : try await directory.deliver(spec, as: objectName, attempt: assignment.lease, report: report)
        case .rclone:
            guard let settings = target.rclone else {
                throw .permanent("target_misconfigured", "upload target \"\(spec.target)\" has no rclone settings")
            }
            let rclone = RcloneTarget(settings: settings)
            return isFolder
                ? try await rclone.deliverFolder(spec, as: objectName, report: report)
                : try await rclone.deliver(spec, as: objectName, report: report)
        case .s3:
            guard let settings = target.s3 else {
                throw .permanent("target_misconfigured", "upload target \"\(spec.target)\" has no s3 settings")
            }
            let s3 = S3Target(settings: settings, client: client, conditions: s3Conditions)
            return isFolder
                ? try await s3.deliverFolder(spec, as: objectName, resumeState: assignment.resumeState, report: report)
                : try await s3.deliver(spec, as: objectName, resumeState: assignment.resumeState, report: report)
        case .telegram:
            guard let settings = target.telegram, let bot = telegramBots.first(where: { $0.name == settings.bot })
            else {
                throw .permanent(
                    "target_misconfigured",
                    "upload target \"\(spec.target)\" names a bot that is not under telegram.bots")
            }
            let marker = stateDirectory.map {
                TelegramSendMarker(stateDirectory: $0, job: assignment.lease.jobID, attempt: assignment.lease.attempt)
            }
            let telegram = TelegramTarget(
                settings: settings, bot: bot, client: client, pacer: telegramPacer, marker: marker)
            return isFolder
                ? try await telegram.deliverFolder(spec, resumeState: assignment.resumeState, report: report)
                : try await telegram.deliver(spec, resumeState: assignment.resumeState, report: report)
        }
    }
}

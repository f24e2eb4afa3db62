import FerryCore
import Foundation

/// One attempt at a `telegram://<bot>/<file_id>` download: `getFile` asks Telegram where the file
/// is, then it is fetched like any download from the file URL (resumable, verified by size) or,
/// from a local Bot API server in `--local` mode, copied from the absolute path it answered. The
/// file URL holds the token, so it exists only in this attempt's memory, and every failure
/// message has the token removed.
struct TelegramFileDownload {
    let executor: DownloadExecutor
    let reference: TelegramFileReference

    func run(
        _ spec: DownloadSpec, _ assignment: SupervisorMessage.Assignment,
        report: @escaping @Sendable (JobProgress, String?) async -> Void
    ) async throws(JobFailure) -> JobResult {
        guard let bot = executor.telegramBots.first(where: { $0.name == reference.bot }) else {
            throw .permanent(
                "telegram_bot_unknown",
                "the bot '\(reference.bot)' this file came through is no longer configured (telegram.bots.\(reference.bot)); configure it again and retry the job"
            )
        }
        if !bot.usesLocalServer, let size = spec.expectedSize, size > TelegramBot.publicDownloadLimit {
            throw Self.tooBig(bot, size: size)
        }
        let token = try BotToken.read(for: bot)
        let api = BotAPIClient(bot: bot, token: token, client: executor.fetcher.client)
        let file: BotAPI.File
        do {
            file = try await api.call("getFile", [("file_id", reference.fileID)], as: BotAPI.File.self)
        } catch {
            throw Self.failure(error, bot: bot, size: spec.expectedSize)
        }
        guard let path = file.filePath, !path.isEmpty else {
            throw .retryable("telegram_no_file_path", "Telegram answered getFile without a file path; trying again")
        }
        if bot.usesLocalServer, path.hasPrefix("/") {
            return try await copyLocal(path, bot: bot, spec: spec, assignment: assignment, report: report)
        }
        guard let url = URL(string: api.fileURL(path)) else {
            throw .permanent("telegram_bad_file_path", "Telegram answered a file path that makes no URL")
        }
        do {
            return try await executor.fetch(url, spec, assignment, report: report)
        } catch {
            throw token.redacted(error)
        }
    }

    /// Copies a file a local Bot API server keeps in its folder: checked to be inside the
    /// configured folder, copied under a temporary name, fsynced, verified by size and renamed
    /// into the job's folder. The server's copy is left alone: it is the server's cache.
    private func copyLocal(
        _ path: String, bot: TelegramBot, spec: DownloadSpec, assignment: SupervisorMessage.Assignment,
        report: @escaping @Sendable (JobProgress, String?) async -> Void
    ) async throws(JobFailure) -> JobResult {
        let source = (path as NSString).standardizingPath
        guard source.hasPrefix(bot.localFilesFolder + "/") else {
            throw .permanent(
                "telegram_file_outside_folder",
                "the local Bot API server answered \(source), outside telegram.bots.\(bot.name).local_files_folder (\(bot.localFilesFolder)); set it to the server's working folder"
            )
        }
        let folder = executor.folder(of: assignment)
        try Folders.ensureForJob(folder)
        let lock = try await JobFolderLock.acquire(folder)
        defer { withExtendedLifetime(lock) {} }
        let name = spec.fileName ?? FileNames.sanitized((source as NSString).lastPathComponent) ?? "download"
        let final = "\(folder)/\(name)"
        let temporary = "\(folder)/.\(name).ferry-\(assignment.lease.attempt).part"
        let copied: (size: Int64, sha256: String)
        do {
            copied = try await FileHashing.copy(from: source, to: temporary) { done in
                await report(JobProgress(bytesDone: done, bytesTotal: spec.expectedSize), nil)
            }
        } catch {
            unlink(temporary)
            throw error
        }
        if let problem = DownloadExecutor.contentProblem(spec, size: copied.size, sha256: copied.sha256) {
            unlink(temporary)
            throw problem
        }
        guard rename(temporary, final) == 0 else {
            let failure = SpoolFile.failure("rename", final)
            unlink(temporary)
            throw failure
        }
        try await lock.flushFolder()
        return JobResult(location: final, size: copied.size, sha256: copied.sha256, contentType: nil)
    }

    /// A Bot API refusal as a job failure: flood control and server errors are retried (after
    /// `retry_after`), a file over the public limit fails for good with what to do about it.
    static func failure(_ error: BotAPIClient.Failure, bot: TelegramBot, size: Int64?) -> JobFailure {
        if error.description.lowercased().contains("file is too big") {
            return tooBig(bot, size: size)
        }
        if error.isRetryable {
            return .retryable(
                error.status.map { "telegram_\($0)" } ?? "network_error",
                "Telegram's getFile failed: \(error.description)", retryAfter: error.retryAfter)
        }
        return .permanent(
            "telegram_file_unavailable", "Telegram refused getFile for this file: \(error.description)")
    }

    static func tooBig(_ bot: TelegramBot, size: Int64?) -> JobFailure {
        let what = size.map { "The file is \(ByteCount.mebibytes($0)) MB, and the" } ?? "The"
        return .permanent(
            "telegram_file_too_big",
            "\(what) public Bot API lets bots download files of at most 20 MB. To fetch bigger files, run a local Bot API server (telegram-bot-api --local), set telegram.bots.\(bot.name).base_url to its address and telegram.bots.\(bot.name).local_files_folder to its working folder, then retry this job."
        )
    }
}

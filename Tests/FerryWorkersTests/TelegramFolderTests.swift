import AsyncHTTPClient
import FerryCore
import FerryTesting
import Foundation
import Testing

@testable import FerryWorkers

/// A folder result (a torrent of several files) sent to a Telegram chat, against the fake Bot API
/// on loopback: one message per file, each sent once even when an answer is lost mid-folder.
@Suite("Folder results to Telegram targets")
struct TelegramFolderTests {
    @Test(
        "A folder goes to the chat as one message per file, in path order; after a lost answer the next attempts send only what no answer was recorded for"
    )
    func folderToChat() async throws {
        let api = try FakeBotAPI()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-tg-folder-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let executor = try Self.executor(api, folder)
        let spec = try UploadAndStoreTests.folderResult(in: folder, downloadID: 12, target: "chat")

        // The first attempt sends one.bin; the answer for sub/two.bin is lost.
        let reports = Reports()
        let first = await run(executor, spec, attempt: 1, resumeState: nil) { state in
            if await reports.record(state) == 1 { try? await api.fault("sendDocument", cutAfter: true) }
        }
        #expect(first.failure?.code == "telegram_answer_lost", "\(first)")
        var resume = await reports.latest
        let recorded = try #require(TelegramTarget.SentFolder(json: resume))
        #expect(Array(recorded.files.keys) == ["one.bin"])
        let second = await run(executor, spec, attempt: 2, resumeState: resume) { await reports.record($0) }
        resume = await reports.latest
        let result = try second.get()
        #expect(result.size == spec.sourceSize && result.sha256 == spec.sourceSHA256)
        let sent = try await api.state().sent
        #expect(sent.map(\.caption) == ["one.bin", "sub/two.bin", "sub/two.bin"], "two.bin again, one.bin once")
        #expect(sent.allSatisfy { $0.chatID == "55" && $0.method == "sendDocument" })
        #expect(
            result.location.hasSuffix("chat=55&messages=\(sent[0].messageID),\(sent[2].messageID)"),
            "\(result.location)")
        #expect(sent[1].sha256 == (try TestOrigin.sha256(ofFile: spec.sourcePath + "/sub/two.bin")))
        // Delivered again (a lost report): every answer is recorded, nothing is sent.
        _ = try await run(executor, spec, attempt: 3, resumeState: resume) { _ in }.get()
        #expect(try await api.state().sent.count == 3)
    }

    @Test("A folder holding a file the Bot API would refuse fails for good before any of it is sent")
    func tooBigFolderSendsNothing() async throws {
        let api = try FakeBotAPI()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-tg-big-\(UUID())")
        let album = folder.appendingPathComponent("album")
        try FileManager.default.createDirectory(at: album, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("small".utf8).write(to: album.appendingPathComponent("a.bin"))
        // 51 MiB, over the public Bot API's 50 MB (sparse: only its size matters).
        let big = album.appendingPathComponent("b.bin")
        try Data().write(to: big)
        let handle = try FileHandle(forWritingTo: big)
        try handle.truncate(atOffset: 51 << 20)
        try handle.close()
        let executor = try Self.executor(api, folder)
        let manifest = try FolderManifest.of(album.path)
        let spec = UploadSpec(
            downloadID: JobID(13), target: "chat", sourcePath: album.path, sourceSize: manifest.size,
            sourceSHA256: manifest.sha256)
        let refused = await run(executor, spec, attempt: 1, resumeState: nil) { _ in }
        #expect(refused.failure?.code == "telegram_file_too_big" && refused.failure?.isRetryable == false)
        #expect(refused.failure?.message.hasPrefix("b.bin is 51.0 MB") == true, "\(refused)")
        #expect(try await api.state().sent.isEmpty)
    }

    /// An upload executor whose target `chat` is chat 55 through the bot `relay` of `api`.
    private static func executor(_ api: FakeBotAPI, _ folder: URL) throws -> UploadExecutor {
        let tokenFile = folder.appendingPathComponent("token").path
        try Data("\(api.token)\n".utf8).write(to: URL(fileURLWithPath: tokenFile))
        var bot = TelegramBot(name: "relay", tokenFile: tokenFile)
        bot.baseURL = api.baseURL
        var settings = UploadTarget.Telegram(bot: "relay", chatID: 55)
        settings.caption = "{file_name}"
        return UploadExecutor(
            targets: [UploadTarget(name: "chat", kind: .telegram, telegram: settings)], client: HTTPClient.shared,
            telegramBots: [bot], stateDirectory: folder.appendingPathComponent("state").path)
    }

    private func run(
        _ executor: UploadExecutor, _ spec: UploadSpec, attempt: Int, resumeState: String?,
        onReport: @escaping @Sendable (String?) async -> Void
    ) async -> Result<JobResult, JobFailure> {
        let assignment = SupervisorMessage.Assignment(
            lease: JobLease(jobID: JobID(700), owner: WorkerID("w"), attempt: attempt), payload: .upload(spec),
            resumeState: resumeState)
        do {
            return .success(try await executor.execute(assignment) { _, state in await onReport(state) })
        } catch {
            return .failure(error)
        }
    }
}

/// The resume states an attempt reported: the latest, and how many.
private actor Reports {
    private(set) var latest: String?
    private var count = 0

    /// Keeps `state` (nil: a progress report without one); answers how many states came so far.
    @discardableResult
    func record(_ state: String?) -> Int {
        guard let state else { return count }
        latest = state
        count += 1
        return count
    }
}

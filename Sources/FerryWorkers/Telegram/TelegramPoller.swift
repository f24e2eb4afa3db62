import AsyncHTTPClient
import FerryCore
import Foundation

/// Long-polls `getUpdates` for each bot the supervisor names (`telegram_poll`: every configured
/// bot on one node; on a shared queue, those this node was elected to poll) and hands every batch
/// to the supervisor. The offset sent to Telegram (which makes it forget the updates below it) is
/// only ever one the supervisor answered after recording the batch, so a crash anywhere loses no
/// update, and an update read twice is recognised by its id and recorded once. Replies go out
/// through any configured bot, polled here or not.
actor TelegramPoller {
    private let bots: [TelegramBot]
    /// Spaces the replies with every other process's sends to the same chats.
    private let pacer: TelegramSendPacer
    /// Writes a message to the supervisor; false once it is gone.
    private let post: @Sendable (WorkerMessage) async -> Bool
    /// What was last told per bot, so only changes are sent.
    private var told: [String: TelegramBotStatus] = [:]
    /// The supervisor's answer per bot, awaited by that bot's loop.
    private var waiting: [String: CheckedContinuation<TelegramCommit, Never>] = [:]
    /// The latest set of bots to poll, as the supervisor last named it.
    private let choices: AsyncStream<Set<String>>
    private let choose: AsyncStream<Set<String>>.Continuation
    /// How long one getUpdates call waits for news on Telegram's side.
    static let pollTimeout = 50

    init(
        bots: [TelegramBot], stateDirectory: String, sharedTurns: PostgresAccess? = nil,
        post: @escaping @Sendable (WorkerMessage) async -> Bool
    ) {
        self.bots = bots
        pacer = TelegramSendPacer(stateDirectory: stateDirectory, shared: sharedTurns)
        self.post = post
        (choices, choose) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// From now on polls exactly the configured bots among `names` (none until first told).
    nonisolated func poll(_ names: Set<String>) {
        choose.yield(names)
    }

    /// Polls the bots it is told to, each in a loop of its own, until cancelled.
    func run() async {
        // Reads wait longer than a long poll; connecting must be quick.
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(timeout: .init(connect: .seconds(10), read: .seconds(Int64(Self.pollTimeout + 20)))))
        var loops: [String: Task<Void, Never>] = [:]
        for await names in choices {
            for (name, loop) in loops where !names.contains(name) {
                // Its long poll is abandoned; updates it was answered are not confirmed, so the
                // node polling the bot next reads them again.
                loop.cancel()
                loops[name] = nil
                stopped[name] = loop
                WorkerRuntime.log("bot \(name): polled elsewhere now; this worker only posts its replies")
            }
            for bot in bots where names.contains(bot.name) && loops[bot.name] == nil {
                // A loop stopped just before ends first: one loop per bot awaits the supervisor.
                let previous = stopped.removeValue(forKey: bot.name)
                loops[bot.name] = Task {
                    await previous?.value
                    await self.poll(bot, client: client)
                }
            }
        }
        for loop in loops.values { loop.cancel() }
        for loop in Array(loops.values) + Array(stopped.values) { await loop.value }
        try? await client.shutdown()
        await pacer.shutdown()
    }

    /// Loops told to stop, until they have (a loop waits for the supervisor's answer to its batch).
    private var stopped: [String: Task<Void, Never>] = [:]

    /// The supervisor's answer to the batch a bot's loop is waiting on.
    func committed(_ commit: TelegramCommit) {
        waiting.removeValue(forKey: commit.bot)?.resume(returning: commit)
    }

    private func poll(_ bot: TelegramBot, client: HTTPClient) async {
        // Nil until the supervisor has answered once: Telegram then sends every update it still
        // keeps, and the supervisor skips those it already recorded.
        var offset: Int64?
        var failures = 0
        while !Task.isCancelled {
            do {
                let token = try BotToken.read(for: bot)
                let api = BotAPIClient(bot: bot, token: token, client: client)
                var parameters = [
                    ("timeout", String(Self.pollTimeout)), ("allowed_updates", "[\"message\",\"channel_post\"]"),
                ]
                if let offset { parameters.append(("offset", String(offset))) }
                let updates = try await api.call(
                    "getUpdates", parameters, as: [BotAPI.Update].self, timeout: .seconds(Self.pollTimeout + 20))
                failures = 0
                await found(TelegramBotStatus(bot: bot.name, reachable: true))
                guard !updates.isEmpty else { continue }
                let batch = TelegramBatch(
                    bot: bot.name, botUserID: token.botUserID, updates: updates.map(TelegramMessageParser.parse))
                let commit = await record(batch)
                if let recorded = commit.offset {
                    offset = recorded
                } else {
                    WorkerRuntime.log(
                        "bot \(bot.name): the supervisor did not record updates (\(commit.error ?? "no answer")); reading them again"
                    )
                    try? await Task.sleep(for: .seconds(1))
                }
            } catch let failure as BotAPIClient.Failure {
                // A poll abandoned because another node polls the bot now is no failure.
                if Task.isCancelled { break }
                failures += 1
                await found(TelegramBotStatus(bot: bot.name, reachable: false, problem: failure.description))
                let wait = failure.retryAfter ?? Self.backoff(failures, retryable: failure.isRetryable)
                WorkerRuntime.log("bot \(bot.name): getUpdates failed: \(failure.description); next try in \(wait)")
                try? await Task.sleep(for: wait)
            } catch {
                if Task.isCancelled { break }
                failures += 1
                await found(TelegramBotStatus(bot: bot.name, reachable: false, problem: "\(error)"))
                WorkerRuntime.log("bot \(bot.name): \(error)")
                try? await Task.sleep(for: Self.backoff(failures, retryable: false))
            }
        }
        // Polled again later, its state is told afresh.
        told[bot.name] = nil
    }

    /// Tells the supervisor when a bot's reachability (or the problem) changed.
    private func found(_ status: TelegramBotStatus) async {
        let last = told[status.bot]
        guard last?.reachable != status.reachable || last?.problem != status.problem else { return }
        told[status.bot] = status
        _ = await post(.telegramStatus(status))
    }

    /// Posts a reply about a download, or edits the one posted before; a reply is a courtesy, so
    /// a failure is only logged. A new reply's message id goes to the supervisor, to be edited later.
    func reply(_ reply: TelegramReply) {
        guard let bot = bots.first(where: { $0.name == reply.bot }) else { return }
        Task {
            do {
                let api = BotAPIClient(bot: bot, token: try BotToken.read(for: bot), client: Self.replyClient)
                await pacer.waitForTurn(bot: bot.name, chat: reply.chatID)
                if let existing = reply.replyMessageID {
                    _ = try await api.call(
                        "editMessageText",
                        [("chat_id", String(reply.chatID)), ("message_id", String(existing)), ("text", reply.text)],
                        as: BotAPI.Edited.self)
                } else {
                    let sent = try await api.call(
                        "sendMessage",
                        [
                            ("chat_id", String(reply.chatID)), ("text", reply.text),
                            ("reply_to_message_id", String(reply.messageID)),
                        ], as: BotAPI.SentMessage.self)
                    var posted = reply
                    posted.replyMessageID = sent.messageId
                    _ = await post(.telegramReplied(posted))
                }
            } catch {
                // The reply is dropped, but a 429 holds the chat for every send of every process.
                if let wait = (error as? BotAPIClient.Failure)?.retryAfter {
                    await pacer.hold(bot: bot.name, chat: reply.chatID, for: wait)
                }
                WorkerRuntime.log("bot \(bot.name): could not reply in chat \(reply.chatID): \(error)")
            }
        }
    }

    /// Replies go out on their own connections, beside the long polls.
    private static let replyClient = HTTPClient(eventLoopGroupProvider: .singleton)

    /// Sends the batch and waits for the supervisor's answer.
    private func record(_ batch: TelegramBatch) async -> TelegramCommit {
        await withCheckedContinuation { continuation in
            waiting[batch.bot] = continuation
            Task {
                if !(await post(.telegramUpdates(batch))) {
                    committed(TelegramCommit(bot: batch.bot, offset: nil, error: "channel closed"))
                }
            }
        }
    }

    /// Waits after failures in a row: 1 s doubling to 30 s; a refusal (bad token, conflict) a minute.
    static func backoff(_ failures: Int, retryable: Bool) -> Duration {
        guard retryable else { return .seconds(60) }
        return .seconds(min(30, 1 << min(failures - 1, 5)))
    }
}

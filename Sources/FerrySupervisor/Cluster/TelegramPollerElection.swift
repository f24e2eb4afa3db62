import FerryCore
import Logging

/// On a shared queue: once a renewal interval, elects the node that long-polls each configured
/// Telegram bot and tells the fleet which bots this node polls. Telegram ends a second concurrent
/// `getUpdates` of a bot with 409 Conflict, so with the same bots configured on every node, one
/// node per bot polls; when it stops or its lease runs out, the next election on another node
/// takes the bot over (within one lease and one renewal interval, as the node's jobs).
///
/// Safety does not rest on the election: updates read by two nodes are recorded once (their
/// ids and the bot's offset, in the store), and a fenced node records nothing.
public actor TelegramPollerElection {
    private let queue: any SharedQueue
    private let fleet: WorkerFleet
    private let logger: Logger
    private let telemetry: SupervisorMetrics
    /// Each configured bot's polling node (by node id), as last elected.
    public private(set) var pollers: [String: String] = [:]
    /// The last failure logged, so that a lasting one is logged once.
    private var lastProblem: String?

    init(queue: any SharedQueue, fleet: WorkerFleet, logger: Logger, telemetry: SupervisorMetrics) {
        self.queue = queue
        self.fleet = fleet
        self.logger = logger
        self.telemetry = telemetry
    }

    /// Elects every `interval` until cancelled; `bots` reads the configured bots (a reload changes them).
    func run(every interval: Duration, bots: @escaping @Sendable () async -> [String]) async {
        while !Task.isCancelled {
            await elect(await bots())
            try? await Task.sleep(for: interval)
        }
    }

    /// One election; a failure keeps the bots polled as they are (a node that cannot reach the
    /// database fences itself within its lease, and its bots then move).
    func elect(_ bots: [String]) async {
        guard let node = queue.nodeIdentity?.id else { return }
        let polledHere = Set(pollers.filter { $0.value == node }.keys)
        // A node with no bots, and none to give up, has nothing to write.
        if bots.isEmpty && polledHere.isEmpty { return }
        let elected: [String: String]
        do {
            elected = try await queue.electTelegramPollers(bots)
        } catch {
            // A fenced node stops its workers anyway; the node lease says why.
            guard error.code != .nodeFenced, error.message != lastProblem else { return }
            lastProblem = error.message
            return logger.warning(
                "could not elect the Telegram bots' pollers; polling on as before", metadata: ["error": "\(error)"])
        }
        lastProblem = nil
        let mine = Set(elected.filter { $0.value == node }.keys)
        for bot in mine.subtracting(polledHere).sorted() {
            logger.notice("this node polls the Telegram bot now", metadata: ["bot": "\(bot)"])
        }
        for bot in polledHere.subtracting(mine).sorted() {
            logger.notice(
                "another node polls the Telegram bot now",
                metadata: ["bot": "\(bot)", "poller": "\(elected[bot] ?? "none")"])
        }
        pollers = elected
        telemetry.telegramPolled(bots, here: mine)
        await fleet.pollTelegram(only: mine)
    }
}

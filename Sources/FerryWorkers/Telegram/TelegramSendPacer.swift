import FerryCore
import Foundation

/// Spaces every Ferry process's sends through a bot as Telegram asks (``TelegramSendTurns``): the
/// upload workers' files and the telegram worker's replies alike, however many of them send to
/// the same chat at once, and a 429's `retry_after` holds the chat for all of them.
///
/// The turns live in one small file, `<state_dir>/telegram/send-turns`, read and rewritten under
/// an exclusive `flock` for each send; the kernel drops the lock of a process that dies, and the
/// file outlives every restart, the supervisor's included, so a hold is kept across them too.
/// When the file cannot be used (a read-only or full disk), this process paces its own sends alone
/// and says so once; so does a pacer made without a state folder (a test's executor).
///
/// On a shared queue the turns live in the database instead (``SharedTelegramTurns``), where every
/// node's processes take them, on the database's clock; while it cannot be reached, the file
/// paces this node's sends, and that is said once.
actor TelegramSendPacer {
    let path: String?
    /// The turns of this process alone, used only when the file cannot be.
    private var ownTurns = TelegramSendTurns()
    private var warned = false
    private let shared: SharedTelegramTurns?
    /// After the database's turns failed, they are not tried again before this (each try may
    /// take a connection timeout), and the failure is said once until they work again.
    private var sharedRetryAt: ContinuousClock.Instant?
    /// Failures in a row: the pause before the next try doubles with each, from one second (a
    /// restarting server is back within a few) up to ``sharedRetryPause`` (one that is away).
    private var sharedFailures = 0
    /// Whether the last turn was taken in the database (false: the file or this process's own).
    private(set) var lastTurnWasShared = false
    static let sharedRetryPause = Duration.seconds(30)

    /// The pause after `failures` failed tries in a row: 1 s, 2 s, 4 s, … up to ``sharedRetryPause``.
    static func sharedRetryPause(afterFailures failures: Int) -> Duration {
        min(.seconds(1 << min(max(failures - 1, 0), 5)), sharedRetryPause)
    }

    init(stateDirectory: String?, shared: PostgresAccess? = nil) {
        path = stateDirectory.map { "\($0)/telegram/send-turns" }
        self.shared = shared.map(SharedTelegramTurns.init(access:))
    }

    /// How often a wait for a turn says it is still waiting: well inside any stall timeout (at
    /// least two heartbeats), at the cost of one short message a second per waiting upload.
    static let waitingSignal = Duration.seconds(1)

    /// Waits until the bot may send to the chat, and takes that turn (returns at once when cancelled).
    /// `stillWaiting` is called about every ``waitingSignal`` of a longer wait: an upload tells its
    /// supervisor that it waits for flood control, so that it is not taken for stalled.
    func waitForTurn(
        bot: String, chat: Int64, stillWaiting: (@Sendable () async -> Void)? = nil
    ) async {
        var lastSignal = ContinuousClock.now
        while let later = await tryTurn(bot: bot, chat: chat) {
            if let stillWaiting, ContinuousClock.now - lastSignal >= Self.waitingSignal {
                await stillWaiting()
                lastSignal = .now
            }
            // Whoever asks first once the turn is due takes it; the others ask again after it.
            let pause = later + .milliseconds(Int64.random(in: 0...20))
            try? await Task.sleep(for: stillWaiting == nil ? pause : min(pause, Self.waitingSignal))
            if Task.isCancelled { return }
        }
    }

    /// Takes the bot's turn to send to the chat if it is due (nil); otherwise returns how long to
    /// wait before asking again.
    func tryTurn(bot: String, chat: Int64) async -> Duration? {
        if let shared = usableShared {
            do {
                let wait = try await shared.take(bot: bot, chat: chat)
                if sharedFailures > 0 {
                    WorkerRuntime.log("Telegram sends are paced in the database again")
                }
                sharedRetryAt = nil
                sharedFailures = 0
                lastTurnWasShared = true
                return wait
            } catch {
                sharedFailed(error)
            }
        }
        lastTurnWasShared = false
        let now = Self.now
        return update(now: now) { $0.take(bot: bot, chat: chat, now: now) }.map { .milliseconds(max(0, $0 - now)) }
    }

    /// Holds the bot's chat for `wait` (a 429's `retry_after`), for every process (and node).
    func hold(bot: String, chat: Int64, for wait: Duration) async {
        let now = Self.now
        update(now: now) { $0.hold(bot: bot, chat: chat, until: now + wait.inMilliseconds, now: now) }
        guard let shared = usableShared else { return }
        do {
            try await shared.hold(bot: bot, chat: chat, for: wait)
        } catch {
            sharedFailed(error)
        }
    }

    /// The database's turns, unless they failed within the retry pause.
    private var usableShared: SharedTelegramTurns? {
        guard let shared else { return nil }
        if let sharedRetryAt, ContinuousClock.now < sharedRetryAt { return nil }
        return shared
    }

    private func sharedFailed(_ error: StoreError) {
        if sharedFailures == 0 {
            WorkerRuntime.log(
                "cannot pace Telegram sends in the database (\(error.message)): this node paces its own until it can again"
            )
        }
        sharedFailures += 1
        sharedRetryAt = .now + Self.sharedRetryPause(afterFailures: sharedFailures)
    }

    /// Closes the database connection, if one was opened.
    func shutdown() async {
        await shared?.close()
    }

    static var now: Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    /// Applies `change` to the shared turns under the file's lock, or to this process's own.
    @discardableResult
    private func update<Result>(now: Int64, _ change: (inout TelegramSendTurns) -> Result) -> Result {
        guard let path else { return change(&ownTurns) }
        let descriptor = Self.openLocked(path)
        guard descriptor >= 0 else {
            if !warned {
                warned = true
                WorkerRuntime.log(
                    "cannot use \(path) (\(String(cString: strerror(errno)))): this process paces its Telegram sends alone"
                )
            }
            return change(&ownTurns)
        }
        // Closing the descriptor releases the lock.
        defer { close(descriptor) }
        var turns = TelegramSendTurns(text: Self.read(descriptor))
        let result = change(&turns)
        let text = Array(turns.text(now: now).utf8)
        // A process killed between these two calls leaves the file empty: the turns then start
        // afresh, which at worst lets one send go early (and Telegram answers it with a 429).
        if ftruncate(descriptor, 0) == 0 {
            _ = text.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        }
        return result
    }

    /// The file, opened (and created with its folder when missing) and locked; -1 on failure.
    private static func openLocked(_ path: String) -> Int32 {
        var descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if descriptor < 0, errno == ENOENT {
            try? FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        }
        guard descriptor >= 0 else { return -1 }
        // Held for a read and a write of a few hundred bytes: a wait here is short.
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else {
                let failure = errno
                close(descriptor)
                errno = failure
                return -1
            }
        }
        return descriptor
    }

    private static func read(_ descriptor: Int32) -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(bytes.count)) }
            guard count > 0 else { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

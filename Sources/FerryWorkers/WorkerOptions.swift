public import FerryCore

/// How the supervisor starts a worker (`ferry worker …`).
public struct WorkerOptions: Sendable, Hashable {
    public var role: WorkerRole
    public var id: WorkerID
    /// The supervisor's pid: a worker whose parent is someone else exits at once.
    public var parentPID: Int32
    public var heartbeatInterval: Duration
    /// Jobs the worker runs at once.
    public var concurrency: Int
    /// A misbehaviour to act out, for the fault-injection tests and the chaos suite.
    public var fault: WorkerFault?
    /// The state folder: spool and finished files live under it.
    public var stateDirectory: String
    /// The configured upload targets (the cleanup worker aborts multipart uploads left on them).
    public var targets: [UploadTarget]
    /// The bots a telegram worker polls.
    public var telegramBots: [TelegramBot]
    /// On a shared queue: where Telegram's flood control is kept for every node.
    public var sharedTelegramTurns: PostgresAccess?

    public init(
        role: WorkerRole, id: WorkerID, parentPID: Int32, heartbeatInterval: Duration, concurrency: Int,
        stateDirectory: String, targets: [UploadTarget] = [], telegramBots: [TelegramBot] = [],
        sharedTelegramTurns: PostgresAccess? = nil, fault: WorkerFault? = nil
    ) {
        self.sharedTelegramTurns = sharedTelegramTurns
        self.stateDirectory = stateDirectory
        self.targets = targets
        self.telegramBots = telegramBots
        self.role = role
        self.id = id
        self.parentPID = parentPID
        self.heartbeatInterval = heartbeatInterval
        self.concurrency = concurrency
        self.fault = fault
    }
}

/// Misbehaviours a worker can be told to act out, so tests can prove the supervisor survives
/// them with real processes instead of mocks.
public enum WorkerFault: String, CaseIterable, Sendable, Hashable {
    /// Exit with status 3 before saying hello (a worker that cannot start).
    case exitAtStart = "exit-at-start"
    /// Say hello, then never send another message (a hung worker).
    case silentAfterHello = "silent-after-hello"
    /// Say hello, then write a line that is not the protocol.
    case garbageAfterHello = "garbage-after-hello"
}

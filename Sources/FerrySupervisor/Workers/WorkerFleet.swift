public import FerryCore
import FerryStore
import Foundation
public import Logging

/// The supervisor's worker processes: starts one per slot, listens to them, and replaces the
/// ones that die, hang or misbehave — putting their jobs back in the queue at once.
///
/// The fleet is the single owner of every worker's state; all changes happen on this actor. Its
/// duties are spread over extensions, one file each: the processes (`+Processes`), what workers
/// say (`+Messages`), the group commit of their reports (`+Commit`), handing out work
/// (`+Dispatch`), exits (`+Exits`) and what the rest of the supervisor asks (`+Control`).
public actor WorkerFleet {
    var settings: FleetSettings
    let executable: String
    let stateDirectory: String
    /// Holds downloads while the spool folder is below its reserve.
    var spoolReserve: SpoolReserve
    var spoolHeldReason: String?
    let store: any JobStore
    let node: String?
    /// Variables a role's workers get beyond the supervisor's own environment.
    let environment: [WorkerRole: [String: String]]
    let logger: Logger
    var slots: [WorkerRole: [WorkerSlot]] = [:]
    var restartStates: [WorkerRole: RoleRestartState] = [:]
    var exits: [WorkerExitReport] = []
    var stopping = false
    /// Set by a second stop signal: skip the rest of the drain and kill.
    var hurrying = false
    /// After a claim found less work than it could take, the queue of that kind is not asked
    /// again before this time (unless ``workArrived(_:)`` says otherwise); after a look found
    /// nothing due, not before the earliest waiting job is due (see `+Wakeups`). Work that
    /// arrives through the supervisor itself (an outcome, a requeue, ``workArrived(_:)``) is
    /// dispatched at once; work another process writes into the database is noticed through
    /// ``JobStore/externalWriteMarker()`` within ``externalWorkCheckInterval``.
    var idleUntil: [JobKind: ContinuousClock.Instant] = [:]
    static let idleClaimInterval: Duration = .seconds(1)
    /// While anything is in flight the periodic duties run this often; idle, the watch sleeps
    /// until the next deadline (see `+Wakeups`).
    static let busyWatchPeriod: Duration = .milliseconds(100)
    /// Wakes the watch at its next deadline, or at once when something changed.
    var alarm = AlarmClock()
    /// When the writes of other processes were last looked for, and what the store said then.
    var lastExternalCheck = ContinuousClock.now
    var externalMarker: Int64?
    /// Jobs handed on because they stalled, per role, since start.
    var stalls: [WorkerRole: Int] = [:]
    let events: AsyncStream<WorkerEvent>
    let eventSink: AsyncStream<WorkerEvent>.Continuation
    var generator = SystemRandomNumberGenerator()
    /// OOM kills already matched to worker exits, per memory cgroup.
    var outOfMemoryKills = OutOfMemoryKills()
    /// Reports, progress and heartbeats heard and not yet committed (see `+Commit`).
    var reports = ReportBatcher()
    /// Asks the commit task for a commit; many asks while one runs make one more.
    let commitRequests: AsyncStream<Void>
    let commitSink: AsyncStream<Void>.Continuation
    /// A commit is under way; others wait for it (commits are applied one after another).
    var committing = false
    var commitWaiters: [CheckedContinuation<Void, Never>] = []
    /// Reports the store could not take yet (a full disk, a read-only or locked database), by job,
    /// applied again about once a second until it takes them or the job has moved on: meanwhile
    /// the job stays running under its worker in the store, which nothing else would ever change.
    var unrecordedOutcomes: [JobID: ReportBatcher.Entry] = [:]
    /// Delivered downloads whose clean-up (uploads marked cleaned, file removed) is still to do.
    var pendingDeliveryCleanups: Set<JobID> = []
    var lastRecordingRetry = ContinuousClock.now
    var lastDeliveryCleanupRetry = ContinuousClock.now
    let metrics: SupervisorMetrics
    /// Whether each bot's Bot API was reachable when its worker last said, by bot.
    var telegramStatuses: [String: TelegramBotStatus] = [:]
    /// The bots this node polls; nil: every configured bot (a single node).
    var telegramPolled: Set<String>?
    /// The telegram worker told to poll them (with several telegram workers, one polls).
    var telegramPoller: WorkerID?
    /// Where the cleanup worker's findings go (set once by the supervisor).
    var findingsSink: AsyncStream<CleanupFindings>.Continuation?

    /// - Parameter executable: the `ferry` binary the workers run (this very binary).
    /// - Parameter node: on a shared queue, this node's name: worker ids end in `@<node>`, so
    ///   every node's workers are told apart in the shared `workers` table.
    public init(
        settings: FleetSettings, executable: String, stateDirectory: String, store: any JobStore,
        node: String? = nil, environment: [WorkerRole: [String: String]] = [:], logger: Logger,
        metrics: SupervisorMetrics = SupervisorMetrics()
    ) {
        self.settings = settings
        self.node = node
        // On a shared queue a bot is polled only once the election gave it to this node.
        telegramPolled = node == nil ? nil : []
        self.environment = environment
        self.metrics = metrics
        self.executable = executable
        self.stateDirectory = stateDirectory
        spoolReserve = SpoolReserve(folder: stateDirectory + "/spool", reserve: settings.work.downloads.spoolReserve)
        self.store = store
        self.logger = logger
        (events, eventSink) = AsyncStream<WorkerEvent>.makeStream()
        (commitRequests, commitSink) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    // MARK: Running

    /// Starts every wanted worker and supervises them until the fleet has stopped.
    public func run() async {
        applyPools()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.consumeEvents() }
            group.addTask { await self.watch() }
            group.addTask { await self.commitWhenAsked() }
            await group.next()
            group.cancelAll()
        }
    }

    func consumeEvents() async {
        for await event in events {
            await handle(event)
            if stopping && liveCount == 0 { break }
            // What was heard may bring a deadline closer (a heartbeat to record, a worker gone).
            rearm()
            // An outcome is committed, and the capacity a hello or an outcome frees is filled, as
            // soon as the commit task is free: whatever arrives meanwhile joins the same commit.
            if case .message(_, let message) = event, message.freesCapacity { commitSink.yield() }
        }
    }

    /// Periodic duties: find hung workers, escalate kills, start due replacements, forgive stable
    /// roles, record heartbeats, look for due work. Runs when the alarm rings: at the earliest
    /// deadline (``nextWakeUp(now:)``), or at once when a change may have brought one closer.
    func watch() async {
        rearm()
        for await _ in alarm.rings {
            if Task.isCancelled || (stopping && liveCount == 0) { break }
            let now = ContinuousClock.now
            tick(now: now)
            handOffStalledJobs(now: now)
            await noticeExternalWrites(now: now)
            // Heartbeats, progress, reports kept for a retry, and claims for due work, in one commit.
            await commit()
        }
    }

    /// Whether a deadline may be near: a job in flight, a worker starting, leaving or due for a
    /// restart, or a shutdown under way. Idle, the supervisor's other timers slow down too.
    var isBusy: Bool {
        if stopping { return true }
        return slots.values.joined().contains { slot in
            switch slot.phase {
            case .starting, .waitingToRestart: return true
            case .ready, .retired:
                return !slot.assigned.isEmpty || slot.killSentAt != nil || slot.drainSentAt != nil || slot.exiting
            }
        }
    }
}

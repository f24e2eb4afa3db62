import FerryCore
import Foundation

/// The life of a worker process (`ferry worker`): say hello, heart-beat, run what the supervisor
/// assigns, report every outcome, and stop when told to or when the supervisor is gone.
public actor WorkerRuntime {
    /// Exit statuses (sysexits) a worker ends with.
    public enum ExitStatus {
        public static let clean: Int32 = 0
        public static let parentGone: Int32 = 70
        public static let protocolViolation: Int32 = 76
        public static let faultInjected: Int32 = 3
    }

    private let options: WorkerOptions
    private let executors: [JobKind: any JobExecutor]
    private let writer = MessageWriter()
    private var running: [JobID: (lease: JobLease, task: Task<Void, Never>)] = [:]
    private var bytesSinceLastBeat: Int64 = 0
    /// The last byte count reported per job, to add up what moved between heartbeats.
    private var reportedBytes: [JobID: Int64] = [:]
    /// The last resume state each job reported; it goes with the job's outcome, so a failed or
    /// stopped attempt's successor continues from it even if that progress report was never stored.
    private var resumeStates: [JobID: String] = [:]
    private var lastSuccessAt: Date?
    private var draining = false
    /// Signalled when a draining worker's last job has ended.
    private let drained: AsyncStream<Void>
    private let drainedSink: AsyncStream<Void>.Continuation
    /// A telegram worker's bot polling, which reports batches instead of running jobs.
    private var telegram: TelegramPoller?

    public init(options: WorkerOptions, executors: [any JobExecutor]) {
        self.options = options
        (drained, drainedSink) = AsyncStream<Void>.makeStream()
        self.executors = Dictionary(executors.map { ($0.kind, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Runs until the worker should exit; returns its exit status.
    public func run() async -> Int32 {
        guard ParentWatch.bind(to: options.parentPID) else {
            Self.log("the supervisor (pid \(options.parentPID)) is gone; exiting")
            return ExitStatus.parentGone
        }
        if options.fault == .exitAtStart {
            Self.log("fault injection: exiting before hello")
            return ExitStatus.faultInjected
        }
        let hello = WorkerMessage.Hello(
            pid: getpid(), role: options.role, version: FerryVersion.current,
            protocolVersion: FerryVersion.protocolVersion, executes: executors.keys.sorted { $0.rawValue < $1.rawValue }
        )
        await writer.send(.hello(hello))
        if options.fault == .garbageAfterHello {
            await writer.write(Data("this is not the protocol\n".utf8))
        }
        let heartbeats = Task { await self.beat() }
        defer { heartbeats.cancel() }
        let polling = startPolling()
        defer { polling?.cancel() }
        // Messages keep being read while draining, so a later `shutdown` or `cancel` still lands.
        return await withTaskGroup(of: Int32.self) { group in
            group.addTask { await self.serve() }
            group.addTask {
                for await _ in self.drained { return ExitStatus.clean }
                return ExitStatus.clean
            }
            let status = await group.next() ?? ExitStatus.clean
            group.cancelAll()
            drainedSink.finish()
            return status
        }
    }

    /// Reads the supervisor's messages until the channel closes or a stop is requested.
    private func serve() async -> Int32 {
        do {
            for try await line in StandardInputLines.stream() {
                let message: SupervisorMessage
                do {
                    message = try MessageCodec.decodeSupervisorMessage(line)
                } catch {
                    Self.log("the supervisor sent an invalid message: \(error)")
                    return ExitStatus.protocolViolation
                }
                switch message {
                case .assign(let assignment): start(assignment)
                case .cancel(let id, let reason): stop(id, reason: reason)
                case .drain:
                    // Finish what is held, take nothing new; leave once the last job ends.
                    draining = true
                    if running.isEmpty { return ExitStatus.clean }
                case .cleanup(let order): scan(order)
                case .telegramCommitted(let commit):
                    guard let telegram else {
                        Self.log("the supervisor sent a telegram answer to a \(options.role) worker")
                        return ExitStatus.protocolViolation
                    }
                    await telegram.committed(commit)
                case .telegramReply(let reply):
                    await telegram?.reply(reply)
                case .telegramPoll(let polling):
                    telegram?.poll(Set(polling.bots))
                case .shutdown:
                    for id in Array(running.keys) { stop(id, reason: "shutdown") }
                    await waitForJobs()
                    return ExitStatus.clean
                }
            }
        } catch {
            Self.log("the control channel failed: \(error)")
            return ExitStatus.protocolViolation
        }
        // End of input: the supervisor closed the channel or died. Its successor requeues our jobs.
        return ExitStatus.clean
    }

    private func start(_ assignment: SupervisorMessage.Assignment) {
        let lease = assignment.lease
        guard !draining else {
            Task { await writer.send(.outcome(.init(lease: lease, result: .stopped(resumeState: nil)))) }
            return
        }
        guard let executor = executors[assignment.payload.kind] else {
            let failure = JobFailure.retryable(
                "no_executor", "this worker has no executor for \(assignment.payload.kind) jobs")
            Task { await writer.send(.outcome(.init(lease: lease, result: .failed(failure)))) }
            return
        }
        let task = Task {
            let result: WorkerMessage.Outcome.Result
            do {
                let output = try await executor.execute(assignment) { progress, resume in
                    await self.progressed(lease, progress, resume)
                }
                result = .succeeded(output)
            } catch {
                let failure = error as? JobFailure ?? .retryable("executor_error", "\(error)")
                let resume = self.resumeStates[lease.jobID]
                result = Task.isCancelled ? .stopped(resumeState: resume) : .failed(failure)
            }
            await self.finished(lease, result)
        }
        running[lease.jobID] = (lease, task)
    }

    /// Starts the bot poller when this is a telegram worker; it polls the bots the supervisor names.
    private func startPolling() -> Task<Void, Never>? {
        guard options.role == .telegram, options.fault != .silentAfterHello else { return nil }
        let writer = writer
        let poller = TelegramPoller(
            bots: options.telegramBots, stateDirectory: options.stateDirectory, sharedTurns: options.sharedTelegramTurns
        ) { message in
            await writer.send(message)
        }
        telegram = poller
        return Task { await poller.run() }
    }

    /// Runs a cleanup scan and reports its findings; only cleanup workers are sent these.
    private func scan(_ order: CleanupOrder) {
        let scanner = CleanupScanner(stateDirectory: options.stateDirectory, targets: options.targets)
        Task {
            let findings = await scanner.run(order)
            await writer.send(.cleanupFindings(findings))
        }
    }

    private func stop(_ id: JobID, reason: String) {
        running[id]?.task.cancel()
    }

    private func progressed(_ lease: JobLease, _ progress: JobProgress, _ resume: String?) async {
        let earlier = reportedBytes[lease.jobID]
        // A restarted transfer reports fewer bytes than before; count only what moved forward.
        bytesSinceLastBeat += max(0, progress.bytesDone - (earlier ?? 0))
        reportedBytes[lease.jobID] = progress.bytesDone
        if let resume { resumeStates[lease.jobID] = resume }
        guard Self.sends(progress, reportedBefore: earlier != nil) else { return }
        await writer.send(.progress(.init(lease: lease, progress: progress, resumeState: resume)))
    }

    /// Whether a progress report goes to the supervisor. A job's first report that is already
    /// complete (a small file, fetched within one progress interval) does not: its outcome follows
    /// at once and records the size, a failed one carries the resume state, and a message fewer per
    /// file is a measurable share of a small download's cost, here and in the supervisor.
    static func sends(_ progress: JobProgress, reportedBefore: Bool) -> Bool {
        reportedBefore || progress.waiting == true || progress.bytesDone != progress.bytesTotal
    }

    private func finished(_ lease: JobLease, _ result: WorkerMessage.Outcome.Result) async {
        running[lease.jobID] = nil
        reportedBytes[lease.jobID] = nil
        let resume = resumeStates.removeValue(forKey: lease.jobID)
        if case .succeeded = result { lastSuccessAt = Date() }
        let carried: String? = if case .failed = result { resume } else { nil }
        await writer.send(.outcome(.init(lease: lease, result: result, resumeState: carried)))
        if draining && running.isEmpty { drainedSink.yield() }
    }

    private func waitForJobs() async {
        for (_, entry) in running { await entry.task.value }
    }

    /// Sends a heartbeat every interval; exits the process when the supervisor is gone.
    private func beat() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: options.heartbeatInterval)
            guard ParentWatch.isParentAlive(options.parentPID) else {
                Self.log("the supervisor (pid \(options.parentPID)) is gone; exiting")
                exit(ExitStatus.parentGone)
            }
            if options.fault == .silentAfterHello { continue }
            let heartbeat = WorkerMessage.Heartbeat(
                at: Date(), jobs: running.keys.sorted(), bytesSinceLastBeat: bytesSinceLastBeat,
                lastSuccessAt: lastSuccessAt)
            bytesSinceLastBeat = 0
            if !(await writer.send(.heartbeat(heartbeat))) { exit(ExitStatus.parentGone) }
        }
    }

    /// Writes a line to standard error, which the supervisor keeps for crash reports.
    static func log(_ line: String) {
        FileHandle.standardError.write(Data("ferry worker: \(line)\n".utf8))
    }
}

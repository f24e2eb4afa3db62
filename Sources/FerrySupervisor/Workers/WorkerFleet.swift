public import FerryCore
import FerryStore
import Foundation
public import Logging

/// The supervisor's worker processes: starts one per slot, listens to them, and replaces the
/// ones that die, hang or misbehave — putting their jobs back in the queue at once.
///
/// The fleet is the single owner of every worker's state; all changes happen on this actor.
public actor WorkerFleet {
    private var settings: FleetSettings
    private let executable: String
    private let stateDirectory: String
    /// Holds downloads while the spool folder is below its reserve.
    private var spoolReserve: SpoolReserve
    private var spoolHeldReason: String?
    private let store: any JobStore
    private let logger: Logger
    private var slots: [WorkerRole: [WorkerSlot]] = [:]
    private var restartStates: [WorkerRole: RoleRestartState] = [:]
    private var exits: [WorkerExitReport] = []
    private var stopping = false
    /// Set by a second stop signal: skip the rest of the drain and kill.
    private var hurrying = false
    /// After a claim found less work than it could take, the queue of that kind is not asked
    /// again before this time (unless ``workArrived(_:)`` says otherwise): an idle supervisor
    /// must not open a write transaction per worker ten times a second. Work that arrives through
    /// the supervisor itself (an outcome, a requeue, ``workArrived(_:)``) is dispatched at once;
    /// the interval only bounds how late a job written by another process is noticed.
    private var idleUntil: [JobKind: ContinuousClock.Instant] = [:]
    private static let idleClaimInterval: Duration = .seconds(1)
    /// How often the periodic duties run while anything is in flight, and while nothing is: each
    /// wake-up costs a few context switches, which is most of an idle supervisor's CPU. Idle, one
    /// wake-up a second covers the hang checks, due restarts and the look for work written by
    /// another process; work the supervisor hears of itself is dispatched at once anyway.
    private static let busyWatchPeriod: Duration = .milliseconds(100)
    private static let idleWatchPeriod: Duration = .seconds(1)
    /// Jobs handed on because they stalled, per role, since start.
    private var stalls: [WorkerRole: Int] = [:]
    private let events: AsyncStream<WorkerEvent>
    private let eventSink: AsyncStream<WorkerEvent>.Continuation
    private var generator = SystemRandomNumberGenerator()
    private var pendingProgress: [JobID: ProgressReport] = [:]
    /// Reports the store could not take yet (a full disk, a read-only or locked database), by job,
    /// applied again on the watch until it takes them or the job has moved on: meanwhile the job
    /// stays running under its worker in the store, which nothing else would ever change.
    private var unrecordedOutcomes: [JobID: (worker: WorkerID, outcome: WorkerMessage.Outcome)] = [:]
    /// Delivered downloads whose clean-up (uploads marked cleaned, file removed) is still to do.
    private var pendingDeliveryCleanups: Set<JobID> = []
    private var lastRecordingRetry = ContinuousClock.now
    private var lastProgressFlush = ContinuousClock.now
    private let metrics: SupervisorMetrics

    /// - Parameter executable: the `ferry` binary the workers run (this very binary).
    public init(
        settings: FleetSettings, executable: String, stateDirectory: String, store: any JobStore, logger: Logger,
        metrics: SupervisorMetrics = SupervisorMetrics()
    ) {
        self.settings = settings
        self.metrics = metrics
        self.executable = executable
        self.stateDirectory = stateDirectory
        spoolReserve = SpoolReserve(folder: stateDirectory + "/spool", reserve: settings.work.downloads.spoolReserve)
        self.store = store
        self.logger = logger
        (events, eventSink) = AsyncStream<WorkerEvent>.makeStream()
    }

    // MARK: Running

    /// Starts every wanted worker and supervises them until the fleet has stopped.
    public func run() async {
        applyPools()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.consumeEvents() }
            group.addTask { await self.watch() }
            await group.next()
            group.cancelAll()
        }
    }

    private func consumeEvents() async {
        for await event in events {
            await handle(event)
            if stopping && liveCount == 0 { break }
            // A hello or an outcome frees capacity; use it now rather than at the next watch.
            if case .message(_, let message) = event, message.freesCapacity { await dispatch() }
        }
    }

    /// Periodic duties: find hung workers, escalate kills, start due replacements, forgive stable roles.
    private func watch() async {
        while !Task.isCancelled && !(stopping && liveCount == 0) {
            let period = isBusy ? Self.busyWatchPeriod : Self.idleWatchPeriod
            try? await Task.sleep(for: min(period, settings.heartbeatInterval / 2))
            tick(now: .now)
            await recordWhatTheStoreRefused()
            await handOffStalledJobs(now: .now)
            await dispatch()
            await flushProgress()
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

    // MARK: Slots

    /// Makes the slots match the wanted number of processes per role.
    private func applyPools() {
        for role in WorkerRole.allCases {
            let wanted = stopping ? 0 : (settings.pools[role]?.processes ?? 0)
            var roleSlots = slots[role] ?? []
            while roleSlots.count < wanted { roleSlots.append(WorkerSlot(role: role, index: roleSlots.count + 1)) }
            slots[role] = roleSlots
            for index in roleSlots.indices {
                if index < wanted {
                    if case .retired = roleSlots[index].phase, roleSlots[index].id == nil { launch(role, index) }
                } else if slots[role]![index].id != nil {
                    retire(role, index)
                } else {
                    slots[role]![index].phase = .retired
                }
            }
        }
    }

    private func launch(_ role: WorkerRole, _ index: Int) {
        let suffix = String(UInt32.random(in: 0...UInt32.max, using: &generator), radix: 16)
        let id = WorkerID("\(role)-\(index + 1).\(suffix)")
        let (inputs, continuation) = AsyncStream<WorkerInput>.makeStream()
        let concurrency = settings.pools[role]?.concurrency ?? 1
        var slot = WorkerSlot(role: role, index: index)
        slot.phase = .starting
        slot.id = id
        slot.inputs = continuation
        slots[role]![index] = slot
        let launcher = WorkerLauncher(
            executable: executable,
            arguments: [
                "worker", "--role", role.rawValue, "--id", id.rawValue, "--parent-pid", String(getpid()),
                "--heartbeat-ms", String(settings.heartbeatInterval.inMilliseconds), "--concurrency",
                String(concurrency), "--state-dir", stateDirectory, "--settings", settingsArgument,
            ] + faultArguments(role),
            id: id)
        let sink = eventSink
        Task { @MainActor in await launcher.run(inputs: inputs, events: sink) }
    }

    /// The worker settings as the `--settings` argument.
    private var settingsArgument: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? String(decoding: encoder.encode(settings.work), as: UTF8.self)) ?? "{}"
    }

    /// Asks a worker to finish and leave; the slot stays empty.
    private func retire(_ role: WorkerRole, _ index: Int) {
        slots[role]![index].phase = .retired
        requestDrain(role, index, cause: .recycled)
    }

    /// Asks a worker to finish its jobs and exit; it gets no new work. If it is still there after
    /// the drain grace it is told to checkpoint and leave, then killed (see ``tick(now:)``).
    private func requestDrain(_ role: WorkerRole, _ index: Int, cause: WorkerExitCause) {
        guard slots[role]![index].id != nil, slots[role]![index].drainSentAt == nil else { return }
        slots[role]![index].killCause = slots[role]![index].killCause ?? cause
        slots[role]![index].drainSentAt = .now
        slots[role]![index].inputs?.yield(.message(.drain))
    }

    private func locate(_ id: WorkerID) -> (WorkerRole, Int)? {
        for (role, roleSlots) in slots {
            if let index = roleSlots.firstIndex(where: { $0.id == id }) { return (role, index) }
        }
        return nil
    }

    private var liveCount: Int {
        slots.values.joined().filter { $0.id != nil }.count
    }

    // MARK: Events

    private func handle(_ event: WorkerEvent) async {
        switch event {
        case .spawned(let id, let pid):
            guard let (role, index) = locate(id) else { return }
            slots[role]![index].pid = pid
            slots[role]![index].startedAt = .now
            slots[role]![index].startedAtDate = Date()
            slots[role]![index].lastHeard = .now
            do {
                try await store.registerWorker(
                    WorkerRecord(id: id, role: role, slot: index + 1, pid: pid, startedAt: Date()))
            } catch {
                logger.error("could not record a worker start", metadata: ["worker": "\(id)", "error": "\(error)"])
            }
        case .message(let id, let message):
            await receive(message, from: id)
        case .violation(let id, let error):
            logger.error(
                "a worker broke the protocol; replacing it", metadata: ["worker": "\(id)", "error": "\(error)"])
            kill(id, cause: .protocolViolation)
        case .exited(let id, let termination):
            await exited(id, termination)
        }
    }

    private func receive(_ message: WorkerMessage, from id: WorkerID) async {
        guard let (role, index) = locate(id) else { return }
        slots[role]![index].lastHeard = .now
        switch message {
        case .hello(let hello):
            guard hello.protocolVersion == FerryVersion.protocolVersion, hello.role == role else {
                logger.error(
                    "a worker introduced itself wrongly",
                    metadata: ["worker": "\(id)", "role": "\(hello.role)", "protocol": "\(hello.protocolVersion)"])
                kill(id, cause: .protocolViolation)
                return
            }
            if case .starting = slots[role]![index].phase { slots[role]![index].phase = .ready }
            slots[role]![index].executes = hello.executes
            logger.info("worker ready", metadata: ["worker": "\(id)", "pid": "\(hello.pid)", "role": "\(role)"])
        case .heartbeat(let heartbeat):
            slots[role]![index].jobs = heartbeat.jobs
            metrics.bytesMoved(heartbeat.bytesSinceLastBeat, role: role)
            try? await store.recordWorkerHeartbeat(id)
        case .progress(let progress):
            let jobID = progress.lease.jobID
            if slots[role]![index].handedOff.contains(jobID) { return }
            guard progress.lease.owner == id, var job = slots[role]![index].assigned[jobID] else {
                return reject(id, "progress for job \(jobID), which it does not hold")
            }
            if progress.progress.bytesDone != job.bytesDone {
                job.bytesDone = progress.progress.bytesDone
                job.lastAdvance = .now
                slots[role]![index].assigned[jobID] = job
            }
            // Kept in memory and written at most about once a second per job.
            pendingProgress[progress.lease.jobID] = ProgressReport(
                lease: progress.lease, progress: progress.progress, resumeState: progress.resumeState)
        case .cleanupFindings(let findings):
            guard role == .cleanup else { return reject(id, "cleanup findings from a \(role) worker") }
            findingsSink?.yield(findings)
        case .telegramUpdates(let batch):
            guard role == .telegram else { return reject(id, "telegram updates from a \(role) worker") }
            let (commit, created) = await TelegramRecorder(store: store, logger: logger).record(
                batch, bots: settings.work.telegramBots)
            // The worker acknowledges the offset to Telegram only on this answer, after the commit.
            if let (role, index) = locate(id) {
                slots[role]![index].inputs?.yield(.message(.telegramCommitted(commit)))
            }
            workArrived(.download)
            for job in created {
                if let reply = await replies.reply(about: job, posting: true) {
                    sendToTelegramWorker(.telegramReply(reply))
                }
            }
        case .telegramReplied(let reply):
            guard role == .telegram else { return reject(id, "a telegram reply from a \(role) worker") }
            try? await store.recordTelegramReply(reply.replyMessageID ?? 0, for: reply.job)
            // The download may have ended before its "queued" was posted: say how at once.
            if let now = await replies.reply(about: reply.job), now.text != reply.text {
                sendToTelegramWorker(.telegramReply(now))
            }
        case .telegramStatus(let status):
            guard role == .telegram else { return reject(id, "a telegram status from a \(role) worker") }
            telegramStatuses[status.bot] = status
        case .outcome(let outcome):
            let jobID = outcome.lease.jobID
            // The report on a job taken away for stalling: the store has already moved on.
            if slots[role]![index].handedOff.remove(jobID) != nil { return }
            guard outcome.lease.owner == id, let held = slots[role]![index].assigned.removeValue(forKey: jobID) else {
                return reject(id, "an outcome for job \(jobID), which it does not hold")
            }
            if let kind = role.jobKind {
                metrics.attemptEnded(kind: kind, outcome: outcome.result.metricLabel, after: .now - held.assignedAt)
            }
            metrics.telegramAnswerLost(outcome.result)
            pendingProgress[jobID] = nil
            await keep(recorder.record(outcome, from: id), of: outcome, from: id)
            // A download that came through a bot with replies: its reply now says how it ended.
            if role == .download, let reply = await replies.reply(about: jobID), !reply.text.hasPrefix("queued") {
                sendToTelegramWorker(.telegramReply(reply))
            }
            // A stopped or failed attempt may be due again at once.
            if case .succeeded = outcome.result {} else if let kind = role.jobKind { workArrived(kind) }
            recycleIfDue(id)
        }
    }

    private func keep(_ recording: OutcomeRecorder.Recording, of outcome: WorkerMessage.Outcome, from id: WorkerID) {
        switch recording {
        case .applied: unrecordedOutcomes[outcome.lease.jobID] = nil
        case .later: unrecordedOutcomes[outcome.lease.jobID] = (id, outcome)
        case .cleanUpLater(let download):
            unrecordedOutcomes[outcome.lease.jobID] = nil
            pendingDeliveryCleanups.insert(download)
        }
    }

    /// Applies again, about once a second, the reports and clean-ups the store could not take.
    private func recordWhatTheStoreRefused(of worker: WorkerID? = nil) async {
        guard !unrecordedOutcomes.isEmpty || !pendingDeliveryCleanups.isEmpty else { return }
        guard worker != nil || ContinuousClock.now - lastRecordingRetry >= .seconds(1) else { return }
        lastRecordingRetry = .now
        for kept in unrecordedOutcomes.values where worker == nil || kept.worker == worker {
            let recording = await recorder.record(kept.outcome, from: kept.worker, again: true)
            keep(recording, of: kept.outcome, from: kept.worker)
            // The store is still refusing: the rest waits for the next try.
            guard recording != .later else { break }
            // A retry it scheduled may be due at once.
            for kind in JobKind.allCases { workArrived(kind) }
        }
        for download in pendingDeliveryCleanups where worker == nil {
            guard await recorder.cleanUpAfterDeliveries(of: download, again: true) else { break }
            pendingDeliveryCleanups.remove(download)
        }
    }

    /// Drains a worker that has run its share of jobs; a fresh process replaces it.
    private func recycleIfDue(_ id: WorkerID) {
        guard let (role, index) = locate(id) else { return }
        slots[role]![index].finishedJobs += 1
        let limit = settings.pools[role]?.recycleAfterJobs ?? 0
        guard limit > 0, slots[role]![index].finishedJobs >= limit, !slots[role]![index].isLeaving else { return }
        logger.info("recycling a worker after its jobs", metadata: ["worker": "\(id)", "jobs": "\(limit)"])
        requestDrain(role, index, cause: .recycled)
    }

    /// Drains every worker whose resident memory is above its role's limit; a fresh process
    /// replaces it once its jobs are done, so a slow leak costs no work.
    public func recycleAboveMemoryLimit(_ residentBytes: [WorkerID: Int]) {
        for (id, bytes) in residentBytes {
            guard let (role, index) = locate(id), !slots[role]![index].isLeaving else { continue }
            let limit = settings.pools[role]?.recycleAboveMemoryMiB ?? 0
            guard limit > 0, bytes > limit * 1_048_576 else { continue }
            logger.warning(
                "recycling a worker above its memory limit",
                metadata: ["worker": "\(id)", "resident_mib": "\(bytes / 1_048_576)", "limit_mib": "\(limit)"])
            requestDrain(role, index, cause: .recycled)
        }
    }

    /// A valid message at the wrong time: the worker is confused, and a confused worker is replaced.
    private func reject(_ id: WorkerID, _ what: String) {
        logger.error("a worker sent \(what); replacing it", metadata: ["worker": "\(id)"])
        kill(id, cause: .protocolViolation)
    }

    private func exited(_ id: WorkerID, _ termination: WorkerTermination) async {
        guard let (role, index) = locate(id) else { return }
        let slot = slots[role]![index]
        let uptime = ContinuousClock.now - slot.startedAt
        let cause = classify(termination, killCause: slot.killCause)
        slots[role]![index].exiting = true
        // Its last reports first, if the store can take them now; what it cannot is requeued below.
        await recordWhatTheStoreRefused(of: id)
        unrecordedOutcomes = unrecordedOutcomes.filter { $0.value.worker != id }
        // Its jobs go back at once, in the same transaction that records the exit, so no claim
        // for it can slip in between; the replacement (or another worker) takes them.
        do {
            let requeued = try await store.recordWorkerExit(
                id,
                exit: WorkerExit(
                    at: Date(), exitCode: termination.exitCode, signal: termination.signal, reason: cause.rawValue,
                    stderrTail: termination.stderrTail ?? termination.spawnError),
                requeueingItsJobs: "worker \(id) exited (\(cause.rawValue))")
            for kind in Set(requeued.map(\.job.kind)) { workArrived(kind) }
            metrics.requeued(requeued)
            if !requeued.isEmpty {
                logger.warning(
                    "requeued the jobs of a dead worker", metadata: ["worker": "\(id)", "jobs": "\(requeued.count)"])
            }
        } catch {
            logger.error("could not record a worker exit", metadata: ["worker": "\(id)", "error": "\(error)"])
        }
        var state = restartStates[role] ?? RoleRestartState()
        let delay = state.recordExit(cause, uptime: uptime, policy: settings.restart, using: &generator)
        restartStates[role] = state
        metrics.workerExited(role: role, cause: cause)
        let report = WorkerExitReport(
            worker: id, role: role, pid: slot.pid, at: Date(), uptime: uptime, cause: cause,
            exitCode: termination.exitCode, signal: termination.signal,
            stderrTail: termination.stderrTail ?? termination.spawnError, restartDelay: delay)
        exits.append(report)
        if exits.count > 50 { exits.removeFirst(exits.count - 50) }
        slot.inputs?.finish()
        let wanted = !stopping && index < (settings.pools[role]?.processes ?? 0)
        var next = WorkerSlot(role: role, index: index)
        next.phase = wanted ? .waitingToRestart(until: .now + delay) : .retired
        slots[role]![index] = next
        let level: Logger.Level = cause.isFailure ? .error : .info
        logger.log(
            level: level, "worker exited",
            metadata: [
                "worker": "\(id)", "cause": "\(cause.rawValue)",
                "exit_code": "\(termination.exitCode.map(String.init) ?? "-")",
                "signal": "\(termination.signal.map(String.init) ?? "-")", "restart_in": "\(delay)",
            ])
        if wanted && delay == .zero { launch(role, index) }
    }

    private func classify(_ termination: WorkerTermination, killCause: WorkerExitCause?) -> WorkerExitCause {
        if let killCause { return killCause }
        if stopping, termination.exitCode == 0 { return .clean }
        if termination.spawnError != nil { return .crash }
        if let signal = termination.signal {
            return signal == SIGKILL && OutOfMemoryKills.increased() ? .outOfMemory : .signal
        }
        return termination.exitCode == 0 ? .clean : .crash
    }

    // MARK: Work

    /// Applies workers' reports to the store.
    private var recorder: OutcomeRecorder {
        OutcomeRecorder(store: store, logger: logger, downloadsFolder: stateDirectory + "/downloads")
    }

    /// Claims due jobs for every ready worker with free capacity and assigns them.
    private func dispatch() async {
        guard !stopping else { return }
        await skipKindsWithoutDueWork()
        for role in WorkerRole.allCases {
            guard let kind = role.jobKind, let concurrency = settings.pools[role]?.concurrency else { continue }
            if let until = idleUntil[kind], ContinuousClock.now < until { continue }
            if kind == .download {
                spoolReserve.reserve = settings.work.downloads.spoolReserve
                spoolHeldReason = spoolReserve.heldReason()
                if spoolHeldReason != nil { continue }
            }
            for index in (slots[role] ?? []).indices {
                let slot = slots[role]![index]
                guard case .ready = slot.phase, let id = slot.id, !slot.isLeaving, !slot.exiting,
                    slot.executes.contains(kind), slot.assigned.count < concurrency
                else { continue }
                let claimed: [ClaimedJob]
                do {
                    let limit = concurrency - slot.assigned.count
                    claimed = try await store.claimDueJobs(of: kind, for: id, limit: limit)
                    if claimed.count < limit {
                        idleUntil[kind] = .now + Self.idleClaimInterval
                    }
                } catch {
                    logger.error("could not claim jobs", metadata: ["worker": "\(id)", "error": "\(error)"])
                    continue
                }
                guard !claimed.isEmpty else { continue }
                // The worker may have died while we claimed; its exit record requeues what it held.
                guard let (sameRole, sameIndex) = locate(id), !slots[sameRole]![sameIndex].exiting else { continue }
                for job in claimed {
                    slots[sameRole]![sameIndex].assigned[job.job.id] = AssignedJob(
                        lease: job.lease, bytesDone: job.job.progress.bytesDone, lastAdvance: .now)
                    let assignment = SupervisorMessage.Assignment(
                        lease: job.lease, payload: job.payload, resumeState: job.job.resumeState)
                    slots[sameRole]![sameIndex].inputs?.yield(.message(.assign(assignment)))
                }
            }
        }
    }

    /// Kinds whose idle interval has passed are looked at again with one read of the queue
    /// before any claim: a kind with nothing due stays idle another interval, so an idle
    /// supervisor opens no write transaction (nor looks at the spool's disk) to find nothing.
    private func skipKindsWithoutDueWork() async {
        let now = ContinuousClock.now
        let polling = Set(idleUntil.filter { now >= $0.value }.map(\.key))
        guard !polling.isEmpty, let due = try? await store.kindsWithDueWork(among: polling) else { return }
        for kind in polling.subtracting(due) { idleUntil[kind] = now + Self.idleClaimInterval }
    }

    /// Takes away every job that has moved no bytes for the stall timeout: the worker is told to
    /// drop it, and the attempt ends as a retryable failure, so the job runs again (on whichever
    /// worker claims it) after its backoff. A worker that answers but does nothing is not dead,
    /// so it is not killed; it just stops holding work hostage.
    private func handOffStalledJobs(now: ContinuousClock.Instant) async {
        let timeout = settings.stallTimeout
        guard timeout > .zero, !stopping else { return }
        var stalled: [(role: WorkerRole, index: Int, worker: WorkerID, job: AssignedJob)] = []
        for (role, roleSlots) in slots {
            for (index, slot) in roleSlots.enumerated() where slot.id != nil {
                for job in slot.assigned.values where now - job.lastAdvance >= timeout {
                    stalled.append((role, index, slot.id!, job))
                }
            }
        }
        for entry in stalled {
            let jobID = entry.job.lease.jobID
            guard slots[entry.role]![entry.index].assigned.removeValue(forKey: jobID) != nil else { continue }
            slots[entry.role]![entry.index].handedOff.insert(jobID)
            slots[entry.role]![entry.index].lastStallAt = now
            stalls[entry.role, default: 0] += 1
            metrics.stalled(role: entry.role)
            pendingProgress[jobID] = nil
            slots[entry.role]![entry.index].inputs?.yield(.message(.cancel(jobID, reason: "stalled")))
            logger.warning(
                "a job made no progress; handing it on",
                metadata: [
                    "worker": "\(entry.worker)", "job_id": "\(jobID)", "stalled_for": "\(now - entry.job.lastAdvance)",
                ])
            let failure = WorkerMessage.Outcome(
                lease: entry.job.lease,
                result: .failed(
                    .retryable(
                        "stalled", "no bytes moved for \(timeout) on \(entry.worker); handed to another attempt")))
            await keep(
                recorder.record(failure, from: entry.worker), of: failure,
                from: entry.worker)
        }
    }

    /// Writes the latest progress of each job, at most about once a second.
    private func flushProgress() async {
        guard !pendingProgress.isEmpty, ContinuousClock.now - lastProgressFlush >= .seconds(1) else { return }
        let reports = Array(pendingProgress.values)
        pendingProgress.removeAll()
        lastProgressFlush = .now
        do {
            try await store.recordProgress(reports)
        } catch {
            logger.error("could not record progress", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Killing

    /// Ends a worker: SIGTERM now, SIGKILL after the grace (see ``tick(now:)``).
    private func kill(_ id: WorkerID, cause: WorkerExitCause) {
        guard let (role, index) = locate(id), slots[role]![index].killSentAt == nil else { return }
        slots[role]![index].killCause = cause
        slots[role]![index].killSentAt = .now
        slots[role]![index].inputs?.yield(.signal(SIGTERM))
        // A stopped process cannot act on SIGTERM; let it see it.
        slots[role]![index].inputs?.yield(.signal(SIGCONT))
    }

    private func tick(now: ContinuousClock.Instant) {
        for role in WorkerRole.allCases {
            for index in (slots[role] ?? []).indices {
                let slot = slots[role]![index]
                switch slot.phase {
                case .starting, .ready:
                    if let sent = slot.killSentAt {
                        if now - sent >= settings.killGrace { slot.inputs?.yield(.signal(SIGKILL)) }
                    } else if slot.drainSentAt != nil {
                        escalateDrain(role, index, now: now)
                    } else if now - slot.lastHeard >= settings.hangTimeout {
                        logger.error(
                            "a worker stopped answering; replacing it",
                            metadata: [
                                "worker": "\(slot.id?.rawValue ?? "?")", "silent_for": "\(now - slot.lastHeard)",
                            ])
                        kill(slot.id!, cause: .hang)
                    } else if case .ready = slot.phase, !slot.countedStable,
                        now - slot.startedAt >= settings.restart.stableAfter
                    {
                        slots[role]![index].countedStable = true
                        restartStates[role, default: RoleRestartState()].recordStable()
                    }
                case .waitingToRestart(let until):
                    if now >= until && !stopping { launch(role, index) }
                case .retired:
                    if let sent = slot.killSentAt, slot.id != nil, now - sent >= settings.killGrace {
                        slot.inputs?.yield(.signal(SIGKILL))
                    } else if slot.id != nil, slot.drainSentAt != nil {
                        escalateDrain(role, index, now: now)
                    }
                }
            }
        }
    }

    /// A draining worker gets the drain grace to finish, then is told to checkpoint and leave,
    /// then killed; it stays subject to the hang timeout throughout.
    private func escalateDrain(_ role: WorkerRole, _ index: Int, now: ContinuousClock.Instant) {
        let slot = slots[role]![index]
        guard let drained = slot.drainSentAt, let id = slot.id, !stopping else { return }
        if let shutdown = slot.shutdownSentAt {
            if now - shutdown >= settings.killGrace { kill(id, cause: slot.killCause ?? .recycled) }
        } else if now - drained >= settings.drainGrace {
            slots[role]![index].shutdownSentAt = now
            slot.inputs?.yield(.message(.shutdown))
        } else if now - slot.lastHeard >= settings.hangTimeout {
            kill(id, cause: .hang)
        }
    }

    // MARK: Control

    /// Whether every wanted worker has said hello.
    public func waitUntilReady(pollEvery interval: Duration = .milliseconds(20)) async {
        while !snapshot().allReady && !Task.isCancelled { try? await Task.sleep(for: interval) }
    }

    /// Applies new settings: scales roles up or down, new intervals and limits from now on.
    public func update(_ newSettings: FleetSettings) {
        settings = newSettings
        applyPools()
    }

    /// Restarts every worker of a role (an operator's request): each is drained and replaced.
    public func restart(_ role: WorkerRole) {
        for index in (slots[role] ?? []).indices { requestDrain(role, index, cause: .recycled) }
    }

    /// Says that jobs of `kind` may be due now (enqueued, resumed, requeued): the next dispatch
    /// asks the store at once instead of waiting out the idle interval.
    public func workArrived(_ kind: JobKind) {
        idleUntil[kind] = nil
    }

    /// Tells the worker holding a job that the job was taken from it (cancelled by an operator):
    /// it stops the transfer, and its late report is ignored.
    public func withdraw(_ jobID: JobID, reason: String) {
        for (role, roleSlots) in slots {
            for index in roleSlots.indices where roleSlots[index].assigned[jobID] != nil {
                slots[role]![index].assigned[jobID] = nil
                slots[role]![index].handedOff.insert(jobID)
                pendingProgress[jobID] = nil
                slots[role]![index].inputs?.yield(.message(.cancel(jobID, reason: reason)))
                // Its slot is free again.
                if let kind = role.jobKind { workArrived(kind) }
            }
        }
    }

    // MARK: Telegram

    /// Whether each bot's Bot API was reachable when its worker last said, by bot.
    private var telegramStatuses: [String: TelegramBotStatus] = [:]

    public func telegramStatus() -> [String: TelegramBotStatus] { telegramStatuses }

    private var replies: TelegramReplies { TelegramReplies(store: store, bots: settings.work.telegramBots) }

    /// Hands a reply to a ready telegram worker; replies are a courtesy, so none ready drops it.
    private func sendToTelegramWorker(_ message: SupervisorMessage) {
        guard
            let index = slots[.telegram]?.firstIndex(where: { slot in
                if case .ready = slot.phase, slot.id != nil, !slot.isLeaving, !slot.exiting { return true }
                return false
            })
        else { return logger.notice("no telegram worker to post a reply; dropped") }
        slots[.telegram]![index].inputs?.yield(.message(message))
    }

    // MARK: Cleanup

    /// Where the cleanup worker's findings go (set once by the supervisor).
    private var findingsSink: AsyncStream<CleanupFindings>.Continuation?

    public func forwardCleanupFindings(to sink: AsyncStream<CleanupFindings>.Continuation) {
        findingsSink = sink
    }

    /// Hands a cleanup scan to a ready cleanup worker; false when none is ready.
    public func sendCleanup(_ order: CleanupOrder) -> WorkerID? {
        guard
            let index = slots[.cleanup]?.firstIndex(where: { slot in
                if case .ready = slot.phase, slot.id != nil, !slot.isLeaving, !slot.exiting { return true }
                return false
            })
        else { return nil }
        slots[.cleanup]![index].inputs?.yield(.message(.cleanup(order)))
        return slots[.cleanup]![index].id
    }

    /// Whether `id` is a worker of this fleet that has not exited (nor begun to).
    public func isLive(_ id: WorkerID) -> Bool {
        slots.values.joined().contains { $0.id == id && !$0.exiting }
    }

    /// The sweep: running jobs whose owner is no live worker of this fleet are put back (or
    /// failed when out of attempts). Checked inside the fleet, which records every exit, so a
    /// worker starting or leaving at the same moment cannot look like a violation. Finding any is
    /// a bug signal; each is logged.
    public func sweep(dryRun: Bool) async -> [Int64] {
        let live = Set(slots.values.joined().compactMap(\.id))
        let running: [Job]
        do {
            running = try await store.jobs(matching: JobQuery(states: [.running, .storing], limit: 100_000))
        } catch {
            logger.error("the sweep could not read running jobs", metadata: ["error": "\(error)"])
            return []
        }
        let orphaned = running.filter { job in job.owner.map { !live.contains($0) } ?? true }
        guard !dryRun else { return orphaned.map(\.id.rawValue) }
        var repaired: [Int64] = []
        for owner in Set(orphaned.compactMap(\.owner)) {
            do {
                let requeued = try await store.requeueJobs(
                    ownedBy: owner, reason: "the sweep found it running without a live worker (\(owner))")
                repaired += requeued.map(\.job.id.rawValue)
                logger.warning(
                    "the sweep requeued jobs of a worker that is gone",
                    metadata: ["worker": "\(owner)", "jobs": "\(requeued.map(\.job.id))"])
            } catch {
                logger.error("the sweep could not requeue", metadata: ["worker": "\(owner)", "error": "\(error)"])
            }
        }
        for kind in Set(orphaned.map(\.kind)) { workArrived(kind) }
        return repaired
    }

    /// Says that jobs of `kind` were just enqueued or made due, and hands them to free workers now.
    public func dispatchNewWork(_ kind: JobKind) async {
        workArrived(kind)
        await dispatch()
    }

    /// Cuts a stop short (a second SIGTERM): workers are killed now; their jobs are requeued as
    /// their exits are recorded, so nothing is lost, only the chance to finish.
    public func hurryStop() {
        guard stopping, !hurrying else { return }
        hurrying = true
        logger.warning("stop requested again: killing the workers now")
    }

    /// Stops the fleet: workers are asked to drain within `grace`, then killed. Returns when every
    /// worker has exited and been reaped.
    public func stop(grace: Duration) async {
        stopping = true
        for role in WorkerRole.allCases {
            for index in (slots[role] ?? []).indices where slots[role]![index].id != nil {
                slots[role]![index].killCause = slots[role]![index].killCause ?? .clean
                slots[role]![index].inputs?.yield(.message(.drain))
            }
        }
        // First ask them to finish; halfway through the grace, to checkpoint and leave.
        let halfway = ContinuousClock.now + grace / 2
        while liveCount > 0 && ContinuousClock.now < halfway && !hurrying {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for slot in slots.values.joined() where slot.id != nil { slot.inputs?.yield(.message(.shutdown)) }
        let deadline = ContinuousClock.now + grace / 2
        while liveCount > 0 && ContinuousClock.now < deadline && !hurrying {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for slot in slots.values.joined() where slot.id != nil { slot.inputs?.yield(.signal(SIGKILL)) }
        while liveCount > 0 { try? await Task.sleep(for: .milliseconds(20)) }
        eventSink.finish()
    }

    /// The fleet at a glance.
    public func snapshot() -> FleetSnapshot {
        let now = ContinuousClock.now
        var roles: [FleetSnapshot.Role] = []
        var workers: [FleetSnapshot.Worker] = []
        for role in WorkerRole.allCases {
            let roleSlots = slots[role] ?? []
            var up = 0
            for slot in roleSlots where slot.id != nil {
                var ready = false
                if case .ready = slot.phase { ready = true }
                if ready && slot.killSentAt == nil { up += 1 }
                let stalled = slot.lastStallAt.map { now - $0 < max(settings.stallTimeout, .seconds(60)) } ?? false
                workers.append(
                    .init(
                        id: slot.id!, role: role, pid: slot.pid, ready: ready, heartbeatAge: now - slot.lastHeard,
                        jobs: slot.jobs, stalled: stalled, draining: slot.drainSentAt != nil,
                        finishedJobs: slot.finishedJobs))
            }
            let state = restartStates[role] ?? RoleRestartState()
            roles.append(
                .init(
                    role: role, wanted: stopping ? 0 : (settings.pools[role]?.processes ?? 0), up: up,
                    restarts: state.restarts, crashLooping: state.isCrashLooping(under: settings.restart),
                    lastCause: state.lastCause, stalls: stalls[role] ?? 0,
                    heldReason: role == .download ? spoolHeldReason : nil))
        }
        return FleetSnapshot(roles: roles, workers: workers, recentExits: exits)
    }

    /// Test hook: `FERRY_TEST_WORKER_FAULT=role:fault` makes that role's workers misbehave.
    private func faultArguments(_ role: WorkerRole) -> [String] {
        guard let spec = ProcessInfo.processInfo.environment["FERRY_TEST_WORKER_FAULT"] else { return [] }
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0] == role.rawValue else { return [] }
        return ["--fault", parts[1]]
    }
}

public import FerryCore
import Foundation
import Logging

/// Workers leaving: recycling after N jobs or above a memory limit, and recording an exit.
extension WorkerFleet {
    /// Drains a worker that has run its share of jobs; a fresh process replaces it.
    func recycleIfDue(_ id: WorkerID) {
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
    func reject(_ id: WorkerID, _ what: String) {
        logger.error("a worker sent \(what); replacing it", metadata: ["worker": "\(id)"])
        kill(id, cause: .protocolViolation)
    }

    func exited(_ id: WorkerID, _ termination: WorkerTermination) async {
        guard let (role, index) = locate(id) else { return }
        let slot = slots[role]![index]
        let uptime = ContinuousClock.now - slot.startedAt
        let cause = classify(termination, killCause: slot.killCause, memoryCgroup: slot.memoryCgroup)
        slots[role]![index].exiting = true
        // Its last reports first (a commit under way finishes, then one takes what is left), if
        // the store can take them now; what it cannot is requeued below.
        await commit(retryingKeptOf: id)
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
        // Jobs taken from it (cancelled as it ran) whose report never came: it may have published
        // a file before it died.
        await recorder.removeUnrecordedFiles(of: Array(slot.handedOff))
        let wanted = !stopping && index < (settings.pools[role]?.processes ?? 0)
        var next = WorkerSlot(role: role, index: index)
        next.phase = wanted ? .waitingToRestart(until: .now + delay) : .retired
        slots[role]![index] = next
        // Another ready telegram worker takes over the polling of the one that left.
        if role == .telegram && id == telegramPoller { tellTelegramWorkers() }
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

    func classify(
        _ termination: WorkerTermination, killCause: WorkerExitCause?, memoryCgroup: MemoryCgroup?
    ) -> WorkerExitCause {
        if let killCause { return killCause }
        if stopping, termination.exitCode == 0 { return .clean }
        if termination.spawnError != nil { return .crash }
        if let signal = termination.signal {
            guard signal == SIGKILL else { return .signal }
            let cgroup = memoryCgroup ?? .machine
            return outOfMemoryKills.explainKill(in: cgroup, count: cgroup.killCount()) ? .outOfMemory : .signal
        }
        return termination.exitCode == 0 ? .clean : .crash
    }

    /// Notes the memory cgroup each live worker is in now (see ``OutOfMemoryKills``); called on
    /// every metrics sample, so a worker moved into another group is followed there.
    public func followMemoryCgroups() {
        for (role, roleSlots) in slots {
            for index in roleSlots.indices { followMemoryCgroup(role, index) }
        }
    }

    func followMemoryCgroup(_ role: WorkerRole, _ index: Int) {
        guard let pid = slots[role]![index].pid, !slots[role]![index].exiting else { return }
        // Nothing readable (or the process just exited): keep what was seen last.
        let cgroup = MemoryCgroup.of(pid: pid) ?? slots[role]![index].memoryCgroup ?? .machine
        slots[role]![index].memoryCgroup = cgroup
        outOfMemoryKills.watch(cgroup, count: cgroup.killCount())
    }

}

public import FerryCore
import Foundation
import Logging

/// What the rest of the supervisor asks of the fleet: scaling, restarts, new work, cancels,
/// the sweep, stopping, and a snapshot for status and health.
extension WorkerFleet {
    /// Whether every wanted worker has said hello.
    public func waitUntilReady(pollEvery interval: Duration = .milliseconds(20)) async {
        while !snapshot().allReady && !Task.isCancelled { try? await Task.sleep(for: interval) }
    }

    /// Applies new settings: scales roles up or down, new intervals and limits from now on.
    public func update(_ newSettings: FleetSettings) {
        settings = newSettings
        applyPools()
        rearm()
        tellTelegramWorkers()
    }

    /// Restarts every worker of a role (an operator's request): each is drained and replaced.
    public func restart(_ role: WorkerRole) {
        for index in (slots[role] ?? []).indices { requestDrain(role, index, cause: .recycled) }
    }

    /// Says that jobs of `kind` may be due now (enqueued, resumed, requeued): the next dispatch
    /// asks the store at once instead of waiting out the idle interval.
    public func workArrived(_ kind: JobKind) {
        idleUntil[kind] = nil
        rearm()
    }

    /// Tells the worker holding a job that the job was taken from it (cancelled by an operator):
    /// it stops the transfer, and its late report is ignored.
    public func withdraw(_ jobID: JobID, reason: String) {
        for (role, roleSlots) in slots {
            for index in roleSlots.indices where roleSlots[index].assigned[jobID] != nil {
                slots[role]![index].assigned[jobID] = nil
                slots[role]![index].handedOff.insert(jobID)
                reports.forgetProgress(of: jobID)
                slots[role]![index].inputs?.yield(.message(.cancel(jobID, reason: reason)))
                // Its slot is free again.
                if let kind = role.jobKind { workArrived(kind) }
            }
        }
    }

    // MARK: Cleanup

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
        // On a shared queue, other nodes' jobs are theirs (their own sweep, or the take-over once
        // their lease runs out): only a worker of this node can be found gone here.
        let mine = node.map { "@\($0)" }
        let orphaned = running.filter { job in
            guard let owner = job.owner else { return mine == nil }
            if let mine, !owner.rawValue.hasSuffix(mine) { return false }
            return !live.contains(owner)
        }
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
        await commit()
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
        rearm()
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
        await commit()
        eventSink.finish()
        commitSink.finish()
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
                        finishedJobs: slot.finishedJobs,
                        waitingForTurn: slot.assigned.compactMapValues { $0.waitingForTurn(at: now) }))
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

}

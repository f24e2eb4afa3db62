import FerryCore
import Foundation

/// When the watch wakes. Busy (a job in flight, a worker starting, leaving or due for a restart),
/// every ``busyWatchPeriod``; idle, at the earliest real deadline: a worker's hang deadline, a
/// role counted stable, kept heartbeats or progress to commit, a report or clean-up to retry, the
/// next waiting job coming due, the look for work written by another process. Anything that may
/// bring a deadline closer calls ``rearm()``; an idle supervisor otherwise sleeps.
extension WorkerFleet {
    /// A kind with nothing waiting is looked at again this often even so, in case work came in a
    /// way nothing announced.
    static let idleLookInterval: Duration = .seconds(60)
    /// How often the store is asked whether another process wrote to it (`ferry` commands and
    /// tests that write the database directly): the latency of such a job on an idle supervisor.
    static let externalWorkCheckInterval: Duration = .seconds(5)

    /// Arms the watch's alarm for its next deadline (or rings it now).
    func rearm() {
        guard !(stopping && liveCount == 0) else { return alarm.stop() }
        let now = ContinuousClock.now
        alarm.set(nextWakeUp(now: now), now: now)
    }

    /// The watch's next deadline.
    func nextWakeUp(now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        if isBusy { return now + Self.busyWatchPeriod }
        var next = lastExternalCheck + Self.externalWorkCheckInterval
        for slot in slots.values.joined() where slot.id != nil {
            guard case .ready = slot.phase else { continue }
            next = min(next, slot.lastHeard + settings.hangTimeout)
            if !slot.countedStable { next = min(next, slot.startedAt + settings.restart.stableAfter) }
        }
        if let due = reports.commitDue(heartbeatDelay: settings.heartbeatInterval) { next = min(next, due) }
        if !unrecordedOutcomes.isEmpty { next = min(next, lastRecordingRetry + .seconds(1)) }
        if !pendingDeliveryCleanups.isEmpty { next = min(next, lastDeliveryCleanupRetry + .seconds(1)) }
        for kind in kindsWithFreeCapacity() {
            // Downloads held for the spool's reserve: its free space is looked at every second.
            if kind == .download, spoolHeldReason != nil {
                next = min(next, now + Self.idleClaimInterval)
            } else {
                next = min(next, idleUntil[kind] ?? now)
            }
        }
        return next
    }

    /// Kinds some ready worker could take a job of now (what ``claimPlans()`` claims for).
    func kindsWithFreeCapacity() -> Set<JobKind> {
        var kinds: Set<JobKind> = []
        for role in WorkerRole.allCases {
            guard let kind = role.jobKind, let concurrency = settings.pools[role]?.concurrency else { continue }
            let free = (slots[role] ?? []).contains { slot in
                guard case .ready = slot.phase, slot.id != nil, !slot.isLeaving, !slot.exiting else { return false }
                return slot.executes.contains(kind) && slot.assigned.count < concurrency
            }
            if free { kinds.insert(kind) }
        }
        return kinds
    }

    /// Makes a commit within `delay` read whether `kind` has due work (a read, not a claim): for
    /// work that may have appeared without being announced.
    func lookSoon(_ kind: JobKind, within delay: Duration = .zero) {
        let at = ContinuousClock.now + delay
        guard let until = idleUntil[kind], until > at else { return }
        idleUntil[kind] = at
    }

    /// Every ``externalWorkCheckInterval``: has another process written to the store? If so (or
    /// if the store cannot tell), every resting kind is looked at in the next commit.
    func noticeExternalWrites(now: ContinuousClock.Instant) async {
        guard now - lastExternalCheck >= Self.externalWorkCheckInterval else { return }
        lastExternalCheck = now
        let marker = try? await store.externalWriteMarker()
        guard marker == nil || marker != externalMarker else { return }
        externalMarker = marker
        for kind in JobKind.allCases { lookSoon(kind) }
    }
}

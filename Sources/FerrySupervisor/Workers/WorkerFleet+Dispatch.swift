import FerryCore
import Foundation
import Logging

/// Handing out work: which free slots claim how many jobs in the next commit, giving the claimed
/// jobs to their workers after it, and taking back jobs that stalled.
extension WorkerFleet {
    /// A claim the next commit makes for one worker's free capacity.
    struct ClaimPlan {
        let role: WorkerRole
        let worker: WorkerID
        let claim: ReportBatch.Claim
    }

    /// One claim per ready worker with free capacity, for kinds that may have due work (not idle,
    /// and for downloads, the spool folder above its reserve).
    func claimPlans() -> [ClaimPlan] {
        var plans: [ClaimPlan] = []
        for role in WorkerRole.allCases {
            guard let kind = role.jobKind, let concurrency = settings.pools[role]?.concurrency else { continue }
            if let until = idleUntil[kind], ContinuousClock.now < until { continue }
            if kind == .download {
                spoolReserve.reserve = settings.work.downloads.spoolReserve
                spoolHeldReason = spoolReserve.heldReason()
                if spoolHeldReason != nil { continue }
            }
            for slot in slots[role] ?? [] {
                guard case .ready = slot.phase, let id = slot.id, !slot.isLeaving, !slot.exiting,
                    slot.executes.contains(kind), slot.assigned.count < concurrency
                else { continue }
                plans.append(
                    ClaimPlan(
                        role: role, worker: id,
                        claim: ReportBatch.Claim(kind: kind, owner: id, limit: concurrency - slot.assigned.count)))
            }
        }
        return plans
    }

    /// Gives committed claims to their worker. A kind that yielded less than asked rests for the
    /// idle interval. A worker that began to exit meanwhile gets nothing: its exit record
    /// requeues what the claim took.
    func assign(_ claimed: Result<[ClaimedJob], StoreError>, as plan: ClaimPlan) {
        let jobs: [ClaimedJob]
        switch claimed {
        case .success(let taken): jobs = taken
        case .failure(let error):
            // Typically the worker was recorded as exited just before the claim.
            logger.notice("a claim was refused", metadata: ["worker": "\(plan.worker)", "error": "\(error)"])
            idleUntil[plan.claim.kind] = .now + Self.idleClaimInterval
            return
        }
        if jobs.count < plan.claim.limit { idleUntil[plan.claim.kind] = .now + Self.idleClaimInterval }
        guard !jobs.isEmpty, let (role, index) = locate(plan.worker), !slots[role]![index].exiting else { return }
        for job in jobs {
            slots[role]![index].assigned[job.job.id] = AssignedJob(
                lease: job.lease, bytesDone: job.job.progress.bytesDone, lastAdvance: .now)
            let assignment = SupervisorMessage.Assignment(
                lease: job.lease, payload: job.payload, resumeState: job.job.resumeState)
            slots[role]![index].inputs?.yield(.message(.assign(assignment)))
        }
    }

    /// Kinds whose rest has ended are looked at again with one read of the queue before any
    /// claim: a kind with nothing due rests until its earliest waiting job is due (at most
    /// ``idleLookInterval``), so an idle supervisor opens no write transaction (nor looks at the
    /// spool's disk) to find nothing, and sleeps until there is something to do.
    func skipKindsWithoutDueWork() async {
        let now = ContinuousClock.now
        let polling = Set(idleUntil.filter { now >= $0.value }.map(\.key))
        guard !polling.isEmpty else { return }
        guard let due = try? await store.earliestDue(among: polling) else {
            for kind in polling { idleUntil[kind] = now + Self.idleClaimInterval }
            return
        }
        let wallNow = Date()
        for kind in polling {
            guard let at = due[kind] else {
                idleUntil[kind] = now + Self.idleLookInterval
                continue
            }
            // Due now: the claim below takes it (and a claim that comes short rests the kind).
            let wait = at.timeIntervalSince(wallNow)
            if wait > 0 {
                idleUntil[kind] = now + min(.milliseconds(Int64((wait * 1000).rounded(.up))), Self.idleLookInterval)
            }
        }
    }

    /// Takes away every job that has moved no bytes for the stall timeout: the worker is told to
    /// drop it, and the attempt ends as a retryable failure in the next commit, so the job runs
    /// again (on whichever worker claims it) after its backoff. A worker that answers but does
    /// nothing is not dead, so it is not killed; it just stops holding work hostage.
    func handOffStalledJobs(now: ContinuousClock.Instant) {
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
            reports.add(failure, from: entry.worker, role: entry.role)
        }
    }
}

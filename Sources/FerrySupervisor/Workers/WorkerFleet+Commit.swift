import FerryCore
import Foundation
import Logging

/// Group commit. Reports, heartbeats and progress collect in ``ReportBatcher`` while a commit is
/// under way; the next commit takes everything that arrived, with claims for every free slot,
/// and applies it in one transaction (``JobStore/apply(_:)``): one fsync for the lot. Under load
/// the batches grow by themselves; idle, a lone report is committed at once. Nothing is acted on
/// before its commit: no job assigned, no reply posted, no file removed.
extension WorkerFleet {
    /// The commit task: one commit per request, requests made meanwhile folded into the next.
    func commitWhenAsked() async {
        for await _ in commitRequests {
            await commit()
            if stopping && liveCount == 0 { break }
        }
    }

    /// Commits what is pending and claims work for free slots. Commits run one at a time; a
    /// caller that finds one under way waits for it, then commits what is left, so after it
    /// returns everything heard before the call has been committed (or kept for a retry).
    /// - Parameter worker: a worker whose kept reports must be tried now (it is exiting).
    func commit(retryingKeptOf worker: WorkerID? = nil) async {
        while committing { await withCheckedContinuation { commitWaiters.append($0) } }
        committing = true
        defer {
            committing = false
            let waiters = commitWaiters
            commitWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
            rearm()
        }
        retryKept(of: worker)
        if !stopping { await skipKindsWithoutDueWork() }
        let plans = stopping ? [] : claimPlans()
        var (entries, batch) = reports.take(flushingProgressOf: worker, heartbeatDelay: settings.heartbeatInterval)
        batch.claims = plans.map(\.claim)
        guard !batch.isEmpty else { return }
        let applied: AppliedBatch
        do {
            applied = try await store.apply(batch)
        } catch {
            // Nothing of the batch was applied: the reports are kept and tried again.
            logger.log(
                level: unrecordedOutcomes.isEmpty ? .error : .debug,
                "could not commit the workers' reports; they are kept and applied again",
                metadata: ["reports": "\(entries.count)", "error": "\(error)"])
            for entry in entries { unrecordedOutcomes[entry.outcome.lease.jobID] = entry }
            for plan in plans { idleUntil[plan.claim.kind] = .now + Self.idleClaimInterval }
            return
        }
        for (plan, claimed) in zip(plans, applied.claims) { assign(claimed, as: plan) }
        for case .success(.completed(let job)) in applied.reports {
            if job.kind == .download {
                // Uploads it asked for were created in this commit: one within 100 ms looks for them
                // (under a stream of downloads, one read every 100 ms, not one per commit).
                lookSoon(.upload, within: Self.busyWatchPeriod)
            } else if job.lane != nil {
                // Its lane is free now: the next upload of it is due at once (it was not, so the
                // kind may be resting).
                workArrived(.upload)
            }
        }
        for (entry, result) in zip(entries, applied.reports) {
            let recording = await recorder.settle(result, of: entry.outcome, from: entry.worker)
            keep(recording, of: entry)
            // A download that came through a bot with replies: its reply now says how it ended.
            if recording != .later, entry.role == .download,
                let reply = await replies.reply(about: entry.outcome.lease.jobID), !reply.text.hasPrefix("queued")
            {
                sendToTelegramWorker(.telegramReply(reply))
            }
        }
        if worker == nil { await retryDeliveryCleanups() }
    }

    /// Applies workers' reports' follow-ups.
    var recorder: OutcomeRecorder {
        OutcomeRecorder(store: store, logger: logger, downloadsFolder: stateDirectory + "/downloads")
    }

    func keep(_ recording: OutcomeRecorder.Recording, of entry: ReportBatcher.Entry) {
        switch recording {
        case .applied: unrecordedOutcomes[entry.outcome.lease.jobID] = nil
        case .later: unrecordedOutcomes[entry.outcome.lease.jobID] = entry
        case .cleanUpLater(let download):
            unrecordedOutcomes[entry.outcome.lease.jobID] = nil
            pendingDeliveryCleanups.insert(download)
        }
    }

    /// Puts the reports the store refused back into the batch, about once a second (or now, for
    /// a worker that is exiting: its jobs are requeued right after, and its reports come first).
    private func retryKept(of worker: WorkerID?) {
        guard !unrecordedOutcomes.isEmpty else { return }
        guard worker != nil || ContinuousClock.now - lastRecordingRetry >= .seconds(1) else { return }
        if worker == nil { lastRecordingRetry = .now }
        for (jobID, kept) in unrecordedOutcomes where worker == nil || kept.worker == worker {
            unrecordedOutcomes[jobID] = nil
            reports.add(kept.outcome, from: kept.worker, role: kept.role)
            // A retry it schedules, or a release, may be due at once.
            if let kind = kept.role.jobKind { workArrived(kind) }
        }
    }

    /// Does again, about once a second, the delivered downloads' clean-ups the store refused.
    private func retryDeliveryCleanups() async {
        guard !pendingDeliveryCleanups.isEmpty, ContinuousClock.now - lastDeliveryCleanupRetry >= .seconds(1) else {
            return
        }
        lastDeliveryCleanupRetry = .now
        for download in pendingDeliveryCleanups {
            guard await recorder.cleanUpAfterDeliveries(of: download, again: true) else { break }
            pendingDeliveryCleanups.remove(download)
        }
    }
}

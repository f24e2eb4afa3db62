import FerryCore
import Foundation
import Logging

/// What the workers say, and what the fleet does on hearing it.
extension WorkerFleet {
    func handle(_ event: WorkerEvent) async {
        switch event {
        case .spawned(let id, let pid):
            guard let (role, index) = locate(id) else { return }
            slots[role]![index].pid = pid
            slots[role]![index].startedAt = .now
            slots[role]![index].startedAtDate = Date()
            slots[role]![index].lastHeard = .now
            followMemoryCgroup(role, index)
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

    func receive(_ message: WorkerMessage, from id: WorkerID) async {
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
            if role == .telegram { tellTelegramWorkers() }
        case .heartbeat(let heartbeat):
            slots[role]![index].jobs = heartbeat.jobs
            metrics.bytesMoved(heartbeat.bytesSinceLastBeat, role: role)
            // Recorded with the next commit (at the latest the watch's, within a second).
            reports.heard(from: id)
        case .progress(let progress):
            let jobID = progress.lease.jobID
            if slots[role]![index].handedOff.contains(jobID) { return }
            guard progress.lease.owner == id, var job = slots[role]![index].assigned[jobID] else {
                return reject(id, "progress for job \(jobID), which it does not hold")
            }
            // A wait for its turn under a rate limit is not a stall; it is shown (the fleet's
            // snapshot), and nothing else changed to record.
            if progress.progress.waiting == true {
                let now = ContinuousClock.now
                job.lastAdvance = now
                job.waitingSince = job.waitingSince ?? now
                job.waitHeardAt = now
                slots[role]![index].assigned[jobID] = job
                return
            }
            job.waitingSince = nil
            if progress.progress.bytesDone != job.bytesDone {
                job.bytesDone = progress.progress.bytesDone
                job.lastAdvance = .now
            }
            slots[role]![index].assigned[jobID] = job
            // Kept in memory and written at most about once a second per job.
            reports.add(
                ProgressReport(lease: progress.lease, progress: progress.progress, resumeState: progress.resumeState))
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
            // A status sent as the bot moved to another node is no longer this node's to show.
            if polledBots.contains(status.bot) { telegramStatuses[status.bot] = status }
        case .outcome(let outcome):
            let jobID = outcome.lease.jobID
            // The report on a job taken away (stalled, or cancelled while it ran): the store has
            // already moved on, but the attempt may have published its file as the cancel came.
            if slots[role]![index].handedOff.remove(jobID) != nil {
                return await recorder.removeUnrecordedFiles(of: [jobID])
            }
            guard outcome.lease.owner == id, let held = slots[role]![index].assigned.removeValue(forKey: jobID) else {
                return reject(id, "an outcome for job \(jobID), which it does not hold")
            }
            if let kind = role.jobKind {
                metrics.attemptEnded(kind: kind, outcome: outcome.result.metricLabel, after: .now - held.assignedAt)
            }
            metrics.telegramAnswerLost(outcome.result)
            // Applied by the next commit, with whatever else arrives meanwhile (see `+Commit`).
            reports.add(outcome, from: id, role: role)
            // A stopped or failed attempt may be due again at once: the same commit may claim it.
            if case .succeeded = outcome.result {} else if let kind = role.jobKind { workArrived(kind) }
            recycleIfDue(id)
        }
    }

}

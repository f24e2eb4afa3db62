import FerryConfig
public import FerryCore
import FerryStore
import Foundation
import Logging

/// Runs cleanup for the supervisor. The cheap, database-only checks run on their own intervals:
/// the sweep (running jobs without a live owner) and the pending scan (queued uploads whose file
/// has gone; due work not yet dispatched). A full run, on `cleanup.run_interval` or when asked,
/// also sends the cleanup worker to compare the files with the records; from its findings the
/// supervisor — the only writer — refetches damaged records, adopts files with no record (when
/// configured), forgets aborted multipart uploads, deletes expired records (retention) and
/// maintains the database, and records the run with everything it found and did. One full run
/// at a time. On PostgreSQL each node runs its own, over the records whose file it holds.
public actor CleanupCoordinator {
    private let store: any CleanupStore
    private let fleet: WorkerFleet
    private let stateDirectory: String
    private let logger: Logger
    private var settings: FerryConfiguration.Cleanup
    /// Where the cleanup worker reads the records.
    private let database: CleanupDatabase
    /// The SQLite file, whose restore from a copy calls for a reconciliation (nil on PostgreSQL,
    /// which Ferry does not restore).
    private let databasePath: String?
    private let findings: AsyncStream<CleanupFindings>
    private let findingsSink: AsyncStream<CleanupFindings>.Continuation
    /// The full run waiting for the worker's findings.
    private var pending:
        (run: CleanupRun, report: CleanupReport, sentAt: ContinuousClock.Instant, worker: WorkerID, gone: Int)?
    /// Longest wait for a worker's findings before the run is given up as failed.
    static let findingsTimeout: Duration = .seconds(3600)

    init(
        store: any CleanupStore, database: CleanupDatabase, fleet: WorkerFleet, stateDirectory: String,
        settings: FerryConfiguration.Cleanup, logger: Logger
    ) {
        self.store = store
        self.fleet = fleet
        self.stateDirectory = stateDirectory
        self.settings = settings
        self.logger = logger
        self.database = database
        if case .sqlite(let path) = database { databasePath = path } else { databasePath = nil }
        (findings, findingsSink) = AsyncStream<CleanupFindings>.makeStream()
    }

    func update(_ settings: FerryConfiguration.Cleanup) {
        self.settings = settings
    }

    /// Runs the schedules and applies findings until cancelled.
    func run() async {
        await fleet.forwardCleanupFindings(to: findingsSink)
        // A run left `running` by a supervisor that died will never finish.
        try? await store.abandonCleanupRuns(reason: "the supervisor stopped before the run finished")
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await findings in self.findings { await self.apply(findings) }
            }
            group.addTask { await self.schedule() }
            await group.next()
            group.cancelAll()
            findingsSink.finish()
        }
    }

    /// Starts a full run, or returns the one already running (`started` false).
    public func request(
        trigger: CleanupRun.Trigger, dryRun: Bool
    ) async throws(StoreError) -> (run: CleanupRun, started: Bool) {
        let (run, started) = try await store.beginCleanupRun(trigger: trigger, dryRun: dryRun)
        guard started else { return (run, false) }
        var report = CleanupReport()
        report.sweepRequeued = await fleet.sweep(dryRun: dryRun)
        await scanPending(dryRun: dryRun, into: &report)
        let order = CleanupOrder(
            runID: run.id, dryRun: dryRun, database: database, verifyHashes: settings.verifyHashes,
            orphans: OrphanPolicy(rawValue: settings.orphans) ?? .quarantine, partialMaxAge: settings.partialMaxAge,
            settleTime: settings.settleTime)
        guard let worker = await fleet.sendCleanup(order) else {
            let failed = try await store.failCleanupRun(
                run.id,
                error:
                    "no cleanup worker is ready to scan the files (workers.cleanup.processes is 0, or the role is restarting)"
            )
            return (failed, true)
        }
        pending = (run, report, .now, worker, 0)
        // While the run waits for its findings, its worker is looked at every second.
        Task {
            while self.pending?.run.id == run.id {
                try? await Task.sleep(for: .seconds(1))
                await self.failRunWhoseWorkerIsGone()
            }
        }
        logger.info("cleanup run started", metadata: ["run": "\(run.id)", "dry_run": "\(dryRun)"])
        return (run, true)
    }

    /// Applies a worker's findings to the run they belong to, and records it.
    private func apply(_ findings: CleanupFindings) async {
        guard let pending, pending.run.id == findings.runID else {
            logger.notice("ignored findings for a run that is not pending", metadata: ["run": "\(findings.runID)"])
            return
        }
        self.pending = nil
        do {
            if let error = findings.error {
                _ = try await store.failCleanupRun(pending.run.id, error: "the file scan failed: \(error)")
                return
            }
            var report = findings.report
            report.sweepRequeued = pending.report.sweepRequeued
            report.pendingInputMissing = pending.report.pendingInputMissing
            report.pendingDispatched = pending.report.pendingDispatched
            let dryRun = pending.run.dryRun
            if !dryRun { report.damagedRecords = await refetch(report.damagedRecords) }
            report.orphanFiles = await adopt(report.orphanFiles, dryRun: dryRun)
            for upload in report.abandonedUploads where upload.settled && !dryRun {
                try await store.forgetAbandonedUpload(JobID(upload.jobID), uploadID: upload.uploadID)
            }
            try await expire(dryRun: dryRun, into: &report)
            if !dryRun {
                try await store.maintain()
                report.databaseMaintained = true
            }
            _ = try await store.finishCleanupRun(pending.run.id, report: report)
            logger.log(
                level: report.foundProblems ? .warning : .info, "cleanup run finished",
                metadata: [
                    "run": "\(pending.run.id)", "damaged": "\(report.damagedRecords.count)",
                    "orphans": "\(report.orphanFiles.count)", "stale_partials": "\(report.stalePartials.count)",
                    "swept": "\(report.sweepRequeued.count)", "hidden_copies": "\(report.hiddenCopies.count)",
                ])
        } catch {
            logger.error("could not record a cleanup run", metadata: ["run": "\(pending.run.id)", "error": "\(error)"])
            _ = try? await store.failCleanupRun(pending.run.id, error: "\(error)")
        }
    }

    /// Sends each damaged record back to be fetched from its source; one that moved on since the
    /// scan (retried, deleted) is only reported, and one whose file left on purpose since the scan
    /// read it (delivered to every target, then removed) was never damaged and is dropped.
    private func refetch(_ damaged: [DamagedRecord]) async -> [DamagedRecord] {
        var result: [DamagedRecord] = []
        for var record in damaged {
            do {
                _ = try await store.refetch(
                    JobID(record.jobID), reason: "cleanup found its file \(record.problem.rawValue): \(record.path)")
                await fleet.dispatchNewWork(record.kind)
            } catch  where error.code == .conflict {
                // The chaos suite's power scenario saw a scan read the record just before the
                // delivery clean-up marked it and removed the file: no problem to report.
                if record.kind == .download,
                    let removed = try? await store.deliveredAndRemoved([JobID(record.jobID)]), !removed.isEmpty
                {
                    continue
                }
                // Adopted from a file with no record: there is no source to fetch it again from.
                record.action = "not_refetched: \(error.message)"
            } catch {
                record.action = "reported"
            }
            result.append(record)
        }
        return result
    }

    /// Files the worker found with no record and hashed for adoption become finished downloads.
    private func adopt(_ orphans: [OrphanFile], dryRun: Bool) async -> [OrphanFile] {
        var result: [OrphanFile] = []
        for var orphan in orphans {
            if orphan.action == "adoptable", let sha256 = orphan.sha256 {
                if dryRun {
                    orphan.action = "would_adopt"
                } else {
                    do {
                        let adopted = try await store.adopt(
                            file: orphan.path, size: orphan.size, sha256: sha256,
                            downloadsFolder: stateDirectory + "/downloads")
                        orphan.action = "adopted"
                        orphan.jobID = adopted.job.rawValue
                        logger.notice(
                            "adopted a file with no record",
                            metadata: [
                                "path": "\(orphan.path)", "job": "\(adopted.job)", "now_at": "\(adopted.location)",
                            ])
                    } catch {
                        orphan.action = "reported"
                        logger.warning(
                            "could not adopt a file with no record",
                            metadata: ["path": "\(orphan.path)", "error": "\(error)"])
                    }
                }
            }
            result.append(orphan)
        }
        return result
    }

    /// Retention: finished records older than `cleanup.retain_finished` go, with their files when
    /// `cleanup.retain_files` is false (records first: a file without a record is found again).
    private func expire(dryRun: Bool, into report: inout CleanupReport) async throws {
        guard settings.retainFinished > .zero else { return }
        let expired = try await store.expireFinished(
            before: Date() - settings.retainFinished.inSeconds, keepRecordsWithFiles: settings.retainFiles,
            dryRun: dryRun)
        report.expiredRecords = expired.records
        let downloads = stateDirectory + "/downloads/"
        for path in expired.files where path.hasPrefix(downloads) {
            if !dryRun {
                _ = ResultRemoval.remove(path)
                rmdir((path as NSString).deletingLastPathComponent)
            }
            if report.expiredFiles.count < 500 { report.expiredFiles.append(path) }
        }
    }

    /// Queued uploads whose downloaded file is gone fail with that reason; due work still
    /// waiting is handed to the dispatcher.
    private func scanPending(dryRun: Bool, into report: inout CleanupReport) async {
        do {
            let sources = try await store.queuedUploadSources(
                olderThan: settings.pendingMinAge, limit: settings.pendingBatchSize)
            for (upload, source) in sources where source.map({ !FileManager.default.fileExists(atPath: $0) }) ?? true {
                report.pendingInputMissing.append(upload.rawValue)
                guard !dryRun else { continue }
                _ = try await store.failQueued(
                    upload,
                    with: .permanent(
                        "source_missing",
                        "the downloaded file \(source ?? "(none)") is gone; retry its download to deliver it again"))
            }
            let cutoff = Date() - settings.pendingMinAge.inSeconds
            for kind in JobKind.allCases {
                let due = try await store.jobs(
                    matching: JobQuery(
                        kind: kind, states: [.queued, .temporary], dueBefore: cutoff, limit: settings.pendingBatchSize))
                guard !due.isEmpty else { continue }
                report.pendingDispatched += due.count
                if !dryRun { await fleet.dispatchNewWork(kind) }
            }
        } catch {
            logger.error("the pending scan failed", metadata: ["error": "\(error)"])
        }
    }

    /// A run whose cleanup worker exited before it sent its findings will never get them: it is
    /// failed at once, saying so, instead of waiting out the findings timeout (an hour) while
    /// every request meanwhile gets the dead run back. The worker must be seen gone on two looks a
    /// second apart, so findings it sent just before exiting are applied first.
    private func failRunWhoseWorkerIsGone() async {
        guard let current = pending else { return }
        guard await !fleet.isLive(current.worker) else {
            pending?.gone = 0
            return
        }
        guard current.gone >= 1 else {
            pending?.gone = current.gone + 1
            return
        }
        pending = nil
        let message =
            "the cleanup worker \(current.worker) ended before it sent its findings (its exit is in GET /api/workers); start another run"
        logger.error(
            "a cleanup run lost its worker", metadata: ["run": "\(current.run.id)", "worker": "\(current.worker)"])
        _ = try? await store.failCleanupRun(current.run.id, error: message)
    }

    /// Starts the cleanup run that follows a restore; true once it started (the marker is removed).
    private func reconcileRestoredDatabase() async -> Bool {
        guard let (run, started) = try? await request(trigger: .startup, dryRun: false), run.state == .running
        else { return false }
        if let databasePath { RestoreMarker.remove(for: databasePath) }
        logger.notice(
            "the database was restored from a copy: reconciling its records with the files",
            metadata: ["run": "\(run.id)", "already_running": "\(!started)"])
        return true
    }

    /// The intervals: sweep, pending scan, full runs, and the findings timeout.
    private func schedule() async {
        let clock = ContinuousClock()
        var lastSweep = clock.now
        var lastPending = clock.now
        var lastRun = clock.now
        // `ferry db restore` put a copy in place: reconcile its records with the files at once.
        var afterRestore = databasePath.map(RestoreMarker.exists(for:)) ?? false
        var lastRestoreTry = clock.now
        while !Task.isCancelled {
            // Asleep until the next duty is due (a second at most while a restore waits for its
            // reconciliation, a minute at most to notice a reload or a run's findings timeout; a
            // run's worker is watched by a task of its own while the run waits).
            var wait = min(
                settings.sweepInterval - (clock.now - lastSweep),
                settings.pendingScanInterval - (clock.now - lastPending), .seconds(60))
            if settings.runInterval > .zero { wait = min(wait, settings.runInterval - (clock.now - lastRun)) }
            if afterRestore { wait = min(wait, .seconds(1)) }
            try? await Task.sleep(for: max(wait, .milliseconds(100)))
            let now = clock.now
            // The first seconds give the cleanup worker time to say hello; a refused try is retried.
            if afterRestore, now - lastRestoreTry >= .seconds(5) {
                lastRestoreTry = now
                afterRestore = !(await reconcileRestoredDatabase())
            }
            if now - lastSweep >= settings.sweepInterval {
                lastSweep = now
                _ = await fleet.sweep(dryRun: false)
            }
            if now - lastPending >= settings.pendingScanInterval {
                lastPending = now
                var report = CleanupReport()
                await scanPending(dryRun: false, into: &report)
                if !report.pendingInputMissing.isEmpty {
                    logger.warning(
                        "the pending scan failed uploads whose file is gone",
                        metadata: ["jobs": "\(report.pendingInputMissing)"])
                }
            }
            if settings.runInterval > .zero, now - lastRun >= settings.runInterval {
                lastRun = now
                _ = try? await request(trigger: .schedule, dryRun: false)
            }
            if let pending, now - pending.sentAt >= Self.findingsTimeout {
                self.pending = nil
                _ = try? await store.failCleanupRun(
                    pending.run.id, error: "the cleanup worker sent no findings within \(Self.findingsTimeout)")
            }
        }
    }
}

import FerryCore
import Foundation
import Logging

/// What follows a worker's report once the store has applied it (or refused it): success of an
/// upload may remove the delivered download's file, a final failure or a report on a job taken
/// away removes what the attempt left behind, a result the store refused fails the attempt.
/// The reports themselves are applied by the fleet's group commit (``JobStore/apply(_:)``).
struct OutcomeRecorder {
    let store: any JobStore
    let logger: Logger
    /// `<state>/downloads`: where a download that ended cancelled or failed may have left files.
    let downloadsFolder: String

    /// What became of a report.
    enum Recording: Equatable {
        /// Applied, or moot (the job had moved on).
        case applied
        /// The store could not take it for now (a full disk, a read-only or locked database):
        /// apply it again later.
        /// - Important: until then the job stays running under its worker in the store although
        ///   the worker holds it no more; a report dropped instead leaves the job running forever.
        case later
        /// Applied, but the delivered download's clean-up (records marked cleaned, file removed)
        /// could not be done for now: do it again later with ``cleanUpAfterDeliveries(of:again:)``.
        case cleanUpLater(download: JobID)
    }

    /// The follow-ups of one report after the commit that held it.
    func settle(
        _ applied: Result<AppliedBatch.Effect, StoreError>, of outcome: WorkerMessage.Outcome, from worker: WorkerID,
        again: Bool = false
    ) async -> Recording {
        let lease = outcome.lease
        switch applied {
        case .success(.completed(let job)):
            if job.kind == .upload, case .upload(let spec) = try? await store.payload(of: job.id),
                await !cleanUpAfterDeliveries(of: spec.downloadID)
            {
                return .cleanUpLater(download: spec.downloadID)
            }
        case .success(.failed(.failed(let job))):
            // An earlier attempt (before a supervisor restart) may have published a file.
            UnrecordedDownloadFiles(downloadsFolder: downloadsFolder, logger: logger).remove(for: job)
            if case .failed(let failure) = outcome.result {
                logger.warning(
                    "job failed",
                    metadata: ["job_id": "\(lease.jobID)", "code": "\(failure.code)", "error": "\(failure.message)"])
            }
        case .success:
            break
        case .failure(let error) where error.code == .invalidInput:
            guard case .succeeded = outcome.result else { break }
            // The store refused the result (wrong size or hash): the attempt failed.
            let rejected = WorkerMessage.Outcome(
                lease: lease, result: .failed(.retryable("result_rejected", error.message)))
            return await record(rejected, from: worker, again: again)
        case .failure(let error) where error.code == .leaseLost:
            // Cancelled, paused or requeued while the worker was still busy: its report is moot.
            logger.notice("discarded a report for a job no longer held", metadata: ["job_id": "\(lease.jobID)"])
            // Cancelled or failed as its worker finished: whatever the attempt had put in place
            // (it may have published its file, then seen the cancel and reported a stop).
            if let job = try? await store.job(lease.jobID) {
                UnrecordedDownloadFiles(downloadsFolder: downloadsFolder, logger: logger).remove(for: job)
            }
        case .failure(let error):
            logger.error("could not record an outcome", metadata: ["job_id": "\(lease.jobID)", "error": "\(error)"])
        }
        return .applied
    }

    /// Removes what attempts left in the folders of those of `ids` that are downloads ended
    /// cancelled or failed (a job handed on to another attempt is left alone).
    func removeUnrecordedFiles(of ids: [JobID]) async {
        for id in ids {
            guard let job = try? await store.job(id) else { continue }
            UnrecordedDownloadFiles(downloadsFolder: downloadsFolder, logger: logger).remove(for: job)
        }
    }

    /// Applies one report on its own (a batch of one) and settles it.
    @discardableResult
    func record(_ outcome: WorkerMessage.Outcome, from worker: WorkerID, again: Bool = false) async -> Recording {
        do {
            let applied = try await store.apply(ReportBatch(reports: [ReportBatcher.report(outcome, from: worker)]))
            return await settle(applied.reports[0], of: outcome, from: worker, again: again)
        } catch {
            logger.log(
                level: again ? .debug : .error, "could not record an outcome yet; it is kept and applied again",
                metadata: ["job_id": "\(outcome.lease.jobID)", "error": "\(error)"])
            return .later
        }
    }

    /// Removes a download's local file once every upload delivered it, when the download asked for
    /// that; the records are marked cleaned first (see ``JobStore/cleanUpAfterDeliveries(of:)``).
    /// Returns false when the store could not be written for now and it should be done again.
    func cleanUpAfterDeliveries(of downloadID: JobID, again: Bool = false) async -> Bool {
        do {
            guard let file = try await store.cleanUpAfterDeliveries(of: downloadID) else { return true }
            let failure = ResultRemoval.remove(file)
            if failure != 0 {
                logger.warning(
                    "could not remove a delivered download",
                    metadata: ["file": "\(file)", "error": "\(String(cString: strerror(failure)))"])
            }
            rmdir((file as NSString).deletingLastPathComponent)
        } catch {
            logger.log(
                level: again ? .debug : .error, "could not clean up after deliveries",
                metadata: ["download_id": "\(downloadID)", "error": "\(error)"])
            return !error.isTransient
        }
        return true
    }
}

extension StoreError {
    /// The database cannot be written for now (full disk, read-only file system, a lock held too
    /// long): the same write may succeed later.
    var isTransient: Bool { code == .unavailable || code == .busy }
}

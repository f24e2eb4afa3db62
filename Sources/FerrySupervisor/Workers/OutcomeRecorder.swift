import FerryCore
import Foundation
import Logging

/// Applies a worker's report on one attempt to the store: success completes the job (and creates
/// its follow-up work), failure schedules a retry or fails it, a requested stop puts it back.
struct OutcomeRecorder {
    let store: any JobStore
    let logger: Logger

    func record(_ outcome: WorkerMessage.Outcome, from worker: WorkerID) async {
        let lease = outcome.lease
        do {
            switch outcome.result {
            case .succeeded(let result):
                do {
                    let job = try await store.complete(JobCompletion(lease: lease, result: result))
                    if job.kind == .upload { await removeDeliveredSource(of: job) }
                } catch  where error.code == .invalidInput {
                    // The store refused the result (wrong size or hash): the attempt failed.
                    _ = try await store.fail(lease, with: .retryable("result_rejected", error.message))
                }
            case .failed(let failure):
                let outcome = try await store.fail(lease, with: failure, resumeState: outcome.resumeState)
                if case .failed = outcome {
                    logger.warning(
                        "job failed",
                        metadata: [
                            "job_id": "\(lease.jobID)", "code": "\(failure.code)", "error": "\(failure.message)",
                        ])
                }
            case .stopped(let resumeState):
                _ = try await store.release(lease, reason: "stopped by \(worker) on request", resumeState: resumeState)
            }
        } catch  where error.code == .leaseLost {
            // Cancelled, paused or requeued while the worker was still busy: its report is moot.
            logger.notice("discarded a report for a job no longer held", metadata: ["job_id": "\(lease.jobID)"])
        } catch {
            logger.error("could not record an outcome", metadata: ["job_id": "\(lease.jobID)", "error": "\(error)"])
        }
    }

    /// Removes a download's local file once every upload delivered it, when the download asked for
    /// that; the records are marked cleaned first (see ``JobStore/cleanUpAfterDeliveries(of:)``).
    private func removeDeliveredSource(of upload: Job) async {
        do {
            guard case .upload(let spec) = try await store.payload(of: upload.id),
                let file = try await store.cleanUpAfterDeliveries(of: spec.downloadID)
            else { return }
            if unlink(file) != 0 && errno != ENOENT {
                logger.warning(
                    "could not remove a delivered download",
                    metadata: ["file": "\(file)", "error": "\(String(cString: strerror(errno)))"])
            }
            rmdir((file as NSString).deletingLastPathComponent)
        } catch {
            logger.error(
                "could not clean up after deliveries", metadata: ["job_id": "\(upload.id)", "error": "\(error)"])
        }
    }
}

import FerryCore
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
                    _ = try await store.complete(JobCompletion(lease: lease, result: result))
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
}

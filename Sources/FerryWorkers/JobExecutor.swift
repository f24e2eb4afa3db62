public import FerryCore

/// Runs one kind of job inside a worker process. Executors never touch the database: they do the
/// transfer, report progress through `report`, and return the result or throw the failure.
public protocol JobExecutor: Sendable {
    var kind: JobKind { get }

    func execute(
        _ assignment: SupervisorMessage.Assignment,
        report: @escaping @Sendable (JobProgress, _ resumeState: String?) async -> Void
    ) async throws(JobFailure) -> JobResult
}

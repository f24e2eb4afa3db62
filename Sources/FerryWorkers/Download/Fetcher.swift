import AsyncHTTPClient
import FerryCore
import Foundation

/// One attempt's fetch of a URL into the spool, as downloads and video storage both do it: the
/// job's folder created and locked against earlier attempts, the partial file taken over from
/// the previous attempt when it can be resumed, the transfer run, and on failure the partial file
/// kept (and its end reported) or removed.
struct Fetcher {
    /// Where partial files live while they are being written.
    let spool: String
    let client: HTTPClient
    let settings: DownloadSettings
    /// How often progress is reported.
    let progressInterval: Duration

    init(
        stateDirectory: String, client: HTTPClient, settings: DownloadSettings,
        progressInterval: Duration = .seconds(1)
    ) {
        spool = stateDirectory + "/spool"
        self.client = client
        self.settings = settings
        self.progressInterval = progressInterval
    }

    /// What a finished fetch leaves: the whole body in `file`, still under its temporary name.
    struct Fetched {
        var file: SpoolFile
        var response: Transfer.Fetched
        var resume: DownloadResumeState
        /// Held until the caller has published the file.
        var lock: JobFolderLock
    }

    func fetch(
        _ url: URL, for assignment: SupervisorMessage.Assignment, lockingFolder folder: String,
        report: @escaping @Sendable (JobProgress, String?) async -> Void
    ) async throws(JobFailure) -> Fetched {
        try Folders.ensureForJob(folder)
        let lease = assignment.lease
        let lock = try await JobFolderLock.acquire(folder)
        var resume = DownloadResumeState(json: assignment.resumeState)
        let file = try SpoolFile.open(
            spool: spool, jobID: lease.jobID, attempt: lease.attempt, resuming: resume.ifRange != nil)
        let transfer = Transfer(
            url: url, file: file, settings: settings, client: client, progressInterval: progressInterval,
            report: report)
        do {
            let response = try await transfer.run(&resume)
            return Fetched(file: file, response: response, resume: resume, lock: lock)
        } catch {
            await transfer.settle(&resume, after: error, report: report)
            if error is CancellationError { throw .retryable("cancelled", "the attempt was stopped") }
            throw TransferErrors.classify(error, host: url.host ?? url.absoluteString)
        }
    }
}

public import Foundation

/// The durable job engine: the only way anything creates, moves or reads jobs.
///
/// Every method is one transaction. Every transition is a compare-and-set on the state the
/// caller expects, so a lost race or an illegal move is a ``StoreError``, never a silent
/// overwrite, and every transition appends to the job's event log. Nothing above this protocol
/// may assume SQLite: a PostgreSQL implementation (claims with `FOR UPDATE SKIP LOCKED`) must be
/// able to satisfy it.
public protocol JobStore: Sendable {
    // MARK: Creating work

    /// Creates downloads; a request whose idempotency key names a live or succeeded job returns
    /// that job instead (also under concurrent callers).
    func enqueue(downloads: [DownloadRequest]) async throws(StoreError) -> [Enqueued]

    /// Creates a video-storage job; the same user and external request id returns the existing job.
    func enqueue(video: VideoRequest) async throws(StoreError) -> Enqueued

    // MARK: Telegram

    /// Records a batch of a bot's updates in one transaction: the downloads they ask for and the
    /// bot's new offset. Updates below the recorded offset are skipped, so a batch read again
    /// after a crash creates nothing twice; the answer's offset is what may be acknowledged.
    func recordTelegramUpdates(_ batch: TelegramBatch, bot: TelegramBot) async throws(StoreError) -> TelegramIntake

    /// Remembers the bot's reply about a download, so the next word on it edits that reply.
    func recordTelegramReply(_ replyMessageID: Int64, for job: JobID) async throws(StoreError)

    /// The reply about a download that came through a bot: the chat, the sender's message and the
    /// bot's reply so far; nil for other jobs.
    func telegramReply(for job: JobID) async throws(StoreError) -> TelegramReply?

    /// What the store knows of each bot that has sent updates.
    func telegramBotRecords() async throws(StoreError) -> [TelegramBotRecord]

    /// Where downloads that came through a bot came from, by job (others are absent).
    func telegramSources(of ids: [JobID]) async throws(StoreError) -> [JobID: TelegramSource]

    // MARK: Running work

    /// Which of `kinds` have at least one job waiting and due now: one read, so that an idle
    /// supervisor looks for work written by another process without a write transaction per kind.
    func kindsWithDueWork(among kinds: Set<JobKind>) async throws(StoreError) -> Set<JobKind>

    /// For each of `kinds` with a job waiting, when the earliest one is due (possibly already);
    /// kinds with nothing waiting are absent. An idle supervisor sleeps until then.
    func earliestDue(among kinds: Set<JobKind>) async throws(StoreError) -> [JobKind: Date]

    /// A number that changes when another process commits to the store (not this one): how an
    /// idle supervisor notices jobs written straight into the database without reading the queue.
    /// Nil when the store cannot tell; the supervisor then reads the queue each time.
    func externalWriteMarker() async throws(StoreError) -> Int64?

    /// Claims up to `limit` due jobs of `kind` for `owner`, highest priority and oldest due first,
    /// counting an attempt for each.
    func claimDueJobs(of kind: JobKind, for owner: WorkerID, limit: Int) async throws(StoreError) -> [ClaimedJob]

    /// Records heartbeats and progress. Reports whose lease was lost are skipped and returned.
    @discardableResult
    func recordProgress(_ reports: [ProgressReport]) async throws(StoreError) -> [JobLease]

    /// Completes attempts with their results and, in the same transaction, creates the follow-up
    /// work (a finished download creates one upload per target). All succeed or none do.
    func complete(_ completions: [JobCompletion]) async throws(StoreError) -> [Job]

    /// Records a failed attempt: a retry is scheduled with backoff when the failure is retryable
    /// and attempts remain, otherwise the job ends failed with the error kept.
    /// `resumeState`, when given, replaces the stored one for the next attempt.
    func fail(
        _ lease: JobLease, with failure: JobFailure, resumeState: String?
    ) async throws(StoreError) -> FailureOutcome

    /// Group commit: applies a batch of reports, progress, heartbeats and claims in one
    /// transaction, each report and claim in its own savepoint (a refused one is rolled back alone
    /// and returned as such; the others are kept). Throws, with nothing applied, only when the
    /// database itself fails (full disk, I/O error, lock held too long).
    func apply(_ batch: ReportBatch) async throws(StoreError) -> AppliedBatch

    // MARK: Operator control

    func cancel(_ id: JobID, reason: String) async throws(StoreError) -> Job
    func pause(_ id: JobID, reason: String) async throws(StoreError) -> Job
    func resume(_ id: JobID, reason: String) async throws(StoreError) -> Job
    /// Runs a failed or cancelled job again, now, granting it a fresh set of attempts.
    func retry(_ id: JobID, reason: String) async throws(StoreError) -> Job
    /// Marks a delivered upload as cleaned once its local source was removed.
    func markCleaned(_ id: JobID, reason: String) async throws(StoreError) -> Job

    /// When the download asked for its local file to go once delivered and all its uploads have
    /// succeeded: marks them cleaned in one transaction and returns the file to remove.
    func cleanUpAfterDeliveries(of downloadID: JobID) async throws(StoreError) -> String?
    /// Downloads whose every upload succeeded and asked for the file to go, with none marked
    /// cleaned yet: the clean-up a dead supervisor never did.
    func deliveriesAwaitingCleanUp() async throws(StoreError) -> [JobID]

    // MARK: Recovery

    /// Puts every job held by `owner` back in the queue at once (its attempt stays counted; a job
    /// on its last attempt ends failed). Used when a worker dies or hangs.
    func requeueJobs(ownedBy owner: WorkerID, reason: String) async throws(StoreError) -> [RequeuedJob]

    /// Puts a running job back in the queue because its worker stopped it on request (drain,
    /// shutdown, recycling): the attempt does not count against the job, and `resumeState` lets the
    /// next attempt continue where this one stopped.
    func release(_ lease: JobLease, reason: String, resumeState: String?) async throws(StoreError) -> Job

    /// Puts every running job back, whoever held it, and records every worker without an exit as
    /// exited. Run at start-up, before anything else, because a new supervisor has no workers yet.
    func recoverAfterRestart(reason: String) async throws(StoreError) -> [RequeuedJob]

    /// Puts every waiting upload in the lane its target has now (``FollowUpUploads/serialTargets``):
    /// uploads queued before the lanes existed, or before their target became (or stopped being)
    /// one that takes one upload at a time. Run at start-up; answers how many moved.
    func assignLanes() async throws(StoreError) -> Int

    // MARK: Workers

    func registerWorker(_ worker: WorkerRecord) async throws(StoreError)
    /// Records a worker's exit. Its jobs must have been requeued first; the schema enforces it.
    func recordWorkerExit(_ id: WorkerID, exit: WorkerExit) async throws(StoreError)
    /// Requeues a dead worker's jobs and records its exit in one transaction, so no claim can slip
    /// in between: after it, the schema refuses any claim by that worker.
    func recordWorkerExit(
        _ id: WorkerID, exit: WorkerExit, requeueingItsJobs reason: String
    )
        async throws(StoreError) -> [RequeuedJob]
    func workers(includeExited: Bool, limit: Int) async throws(StoreError) -> [WorkerRecord]

    // MARK: Health

    /// Writes and commits a tiny record: proof that the store can still take writes.
    func checkWritable() async throws(StoreError)

    // MARK: Reading

    func job(_ id: JobID) async throws(StoreError) -> Job
    func payload(of id: JobID) async throws(StoreError) -> JobPayload
    /// The payloads of several jobs of one kind, in one read (for lists).
    func payloads(of ids: [JobID], kind: JobKind) async throws(StoreError) -> [JobID: JobPayload]
    func events(of id: JobID) async throws(StoreError) -> [JobEvent]
    /// Every job's events after `lastID`, oldest first: the feed the admin's event stream tails.
    func events(after lastID: Int64, limit: Int) async throws(StoreError) -> [JobEvent]
    /// The id of the newest event, 0 when there is none.
    func lastEventID() async throws(StoreError) -> Int64
    func jobs(matching query: JobQuery) async throws(StoreError) -> [Job]
    /// A user's videos, filtered, ordered and paged.
    func videos(matching query: VideoQuery) async throws(StoreError) -> VideoPage
    /// Upload jobs created for a download.
    func uploads(of downloadID: JobID) async throws(StoreError) -> [Job]
    /// Jobs per kind and state: a look at every row, finished history included.
    func queueCounts() async throws(StoreError) -> [QueueCount]
    /// The counts of the states jobs are still to leave (waiting, running, paused), with the
    /// oldest due job: ranges of the queue index, however much finished history the table keeps
    /// (a second's status look must not scan a million finished jobs).
    func unfinishedQueueCounts() async throws(StoreError) -> [QueueCount]
}

extension JobStore {
    /// Creates one download.
    public func enqueue(download: DownloadRequest) async throws(StoreError) -> Enqueued {
        try await enqueue(downloads: [download])[0]
    }

    /// Completes one attempt.
    public func complete(_ completion: JobCompletion) async throws(StoreError) -> Job {
        try await complete([completion])[0]
    }
}

extension JobStore {
    public func fail(_ lease: JobLease, with failure: JobFailure) async throws(StoreError) -> FailureOutcome {
        try await fail(lease, with: failure, resumeState: nil)
    }
}

/// What a store that cannot say when work comes due gets: the supervisor looks again every second.
extension JobStore {
    public func earliestDue(among kinds: Set<JobKind>) async throws(StoreError) -> [JobKind: Date] {
        let due = try await kindsWithDueWork(among: kinds)
        let now = Date()
        return Dictionary(uniqueKeysWithValues: kinds.map { ($0, due.contains($0) ? now : now.addingTimeInterval(1)) })
    }

    public func externalWriteMarker() async throws(StoreError) -> Int64? { nil }
}

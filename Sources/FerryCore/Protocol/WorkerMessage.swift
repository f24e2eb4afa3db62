public import Foundation

/// What a worker tells its supervisor, one message per line on the worker's standard output.
public enum WorkerMessage: Hashable, Sendable {
    /// The first message of every worker: who it is and which protocol it speaks.
    case hello(Hello)
    /// "I am alive", on the configured interval, with what the worker is doing.
    case heartbeat(Heartbeat)
    /// How far one job has got, at most about once a second per job.
    case progress(Progress)
    /// How one attempt ended.
    case outcome(Outcome)
    /// What a cleanup scan found in the files (cleanup workers only).
    case cleanupFindings(CleanupFindings)
    /// Updates read from a Telegram bot, to be recorded with the bot's new offset (telegram workers only).
    case telegramUpdates(TelegramBatch)
    /// A bot became reachable or unreachable (telegram workers only).
    case telegramStatus(TelegramBotStatus)
    /// A bot posted its reply about a download (telegram workers only): to be edited later.
    case telegramReplied(TelegramReply)

    public struct Hello: Hashable, Sendable, Codable {
        public var pid: Int32
        public var role: WorkerRole
        /// The Ferry version of the worker binary.
        public var version: String
        /// The protocol version the worker speaks; the supervisor refuses others.
        public var protocolVersion: Int
        /// The job kinds this worker has executors for; it is assigned no others.
        public var executes: [JobKind]

        public init(pid: Int32, role: WorkerRole, version: String, protocolVersion: Int, executes: [JobKind] = []) {
            self.pid = pid
            self.role = role
            self.version = version
            self.protocolVersion = protocolVersion
            self.executes = executes
        }
    }

    public struct Heartbeat: Hashable, Sendable, Codable {
        public var at: Date
        /// The jobs the worker holds right now.
        public var jobs: [JobID]
        /// Bytes moved since the previous heartbeat, over all jobs: alive versus making progress.
        public var bytesSinceLastBeat: Int64
        public var lastSuccessAt: Date?

        public init(at: Date, jobs: [JobID], bytesSinceLastBeat: Int64, lastSuccessAt: Date?) {
            self.at = at
            self.jobs = jobs
            self.bytesSinceLastBeat = bytesSinceLastBeat
            self.lastSuccessAt = lastSuccessAt
        }
    }

    public struct Progress: Hashable, Sendable, Codable {
        public var lease: JobLease
        public var progress: JobProgress
        /// What a later attempt needs to continue (opaque JSON); nil keeps the stored one.
        public var resumeState: String?

        public init(lease: JobLease, progress: JobProgress, resumeState: String? = nil) {
            self.lease = lease
            self.progress = progress
            self.resumeState = resumeState
        }
    }

    public struct Outcome: Hashable, Sendable, Codable {
        public enum Result: Hashable, Sendable, Codable {
            case succeeded(JobResult)
            case failed(JobFailure)
            /// The worker stopped the job because it was told to (cancel, drain); the job's
            /// state is the supervisor's business.
            case stopped(resumeState: String?)
        }

        public var lease: JobLease
        public var result: Result
        /// With a failure: what the next attempt continues from (nil keeps the stored one).
        public var resumeState: String?

        public init(lease: JobLease, result: Result, resumeState: String? = nil) {
            self.lease = lease
            self.result = result
            self.resumeState = resumeState
        }
    }
}

/// What the supervisor tells a worker, one message per line on the worker's standard input.
public enum SupervisorMessage: Hashable, Sendable {
    /// Run this job under this lease.
    case assign(Assignment)
    /// Stop this job now; report `stopped`.
    case cancel(JobID, reason: String)
    /// Take no new work; finish or checkpoint what you hold, then exit 0.
    case drain
    /// Exit now (after reporting `stopped` for what you hold, if you can).
    case shutdown
    /// Scan the managed folders against the records (cleanup workers only).
    case cleanup(CleanupOrder)
    /// The updates of a batch are recorded up to this offset (telegram workers only).
    case telegramCommitted(TelegramCommit)
    /// Post or edit a reply in a chat (telegram workers only).
    case telegramReply(TelegramReply)
    /// Long-poll exactly these bots from now on (telegram workers only; sent after hello and
    /// whenever the set changes: on a shared queue, one node per bot polls).
    case telegramPoll(TelegramPolling)

    public struct Assignment: Hashable, Sendable, Codable {
        public var lease: JobLease
        public var payload: JobPayload
        /// What the previous attempt left to continue from.
        public var resumeState: String?

        public init(lease: JobLease, payload: JobPayload, resumeState: String? = nil) {
            self.lease = lease
            self.payload = payload
            self.resumeState = resumeState
        }
    }
}

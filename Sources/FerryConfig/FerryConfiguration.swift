public import FerryCore

/// Every setting of Ferry, typed, with the defaults it runs on when no file is given.
///
/// The file format, names, ranges and one-line documentation of each setting live in
/// ``ConfigSchema``; `Config/ferry.yaml` is rendered from it, so the two cannot drift.
public struct FerryConfiguration: Sendable, Equatable {
    /// The folder for the database, spool and stored files. Empty: `$STATE_DIRECTORY` when systemd
    /// provides one, else `./ferry-state`.
    public var stateDirectory: String = ""
    public var database = Database()
    public var cluster = Cluster()
    public var supervisor = Supervisor()
    public var workers = Workers()
    public var retry = Retry()
    public var downloads = DownloadSettings()
    /// Upload targets by name (`targets.<name>.type`, `.path`); none by default.
    public var targets: [UploadTarget] = []
    /// Telegram bots whose chats send work (`telegram.bots.<name>`); none by default.
    public var telegramBots: [TelegramBot] = []
    public var cleanup = Cleanup()
    public var backup = Backup()
    public var http = HTTP()
    public var health = Health()
    public var logging = Logging()

    public init() {}

    public struct Database: Sendable, Equatable {
        /// Empty: `<state>/ferry.sqlite`; a relative path is taken inside the state folder.
        public var path: String = ""
        /// Non-empty: the PostgreSQL store at this URL instead of the SQLite file.
        public var url: String = ""
        /// The PostgreSQL password's file; empty: `$FERRY_DATABASE_PASSWORD`, if set.
        public var passwordFile: String = ""
        /// SQLite `synchronous` in WAL mode: `normal`, `full` (default) or `extra`.
        public var synchronous: String = "full"
        public var busyTimeout: Duration = .seconds(5)
    }

    /// Only with `database.url`: this `ferry serve` as one node of several on the shared queue.
    public struct Cluster: Sendable, Equatable {
        /// Empty: the host name. Each start is a new incarnation (`<name>.<8 hex>`).
        public var nodeName: String = ""

        /// A node name's characters: ASCII letters, digits, `-` and `_`.
        public static func allowedInNodeName(_ character: Character) -> Bool {
            character.isASCII && (character.isLetter || character.isNumber || character == "-" || character == "_")
        }
        /// How long the node's lease lasts on the database's clock; it is renewed every third.
        public var lease: Duration = .seconds(15)
    }

    public struct Supervisor: Sendable, Equatable {
        /// How often each worker reports that it is alive.
        public var heartbeatInterval: Duration = .seconds(15)
        /// A worker silent this long is hung: killed, replaced, its jobs requeued.
        public var hangTimeout: Duration = .seconds(60)
        /// How long a stopping supervisor lets workers finish or checkpoint before killing them.
        public var shutdownGrace: Duration = .seconds(20)
        /// Between SIGTERM and SIGKILL when a hung or misbehaving worker must go.
        public var killGrace: Duration = .seconds(3)
        /// A job that moved no bytes this long is stalled: reported, and handed to another worker.
        /// Zero turns stall detection off.
        public var stallTimeout: Duration = .seconds(300)
        /// How often the supervisor samples CPU, memory, disks and its processes.
        public var metricsInterval: Duration = .seconds(10)
        public var restart = Restart()
    }

    /// How failed workers are restarted (see ``RestartPolicy``).
    public struct Restart: Sendable, Equatable {
        public var initialDelay: Duration = RestartPolicy().initialDelay
        public var maxDelay: Duration = RestartPolicy().maxDelay
        public var stableAfter: Duration = RestartPolicy().stableAfter
        public var crashLoopAfter: Int = RestartPolicy().crashLoopAfter

        public var policy: RestartPolicy {
            RestartPolicy(
                initialDelay: initialDelay, maxDelay: maxDelay, stableAfter: stableAfter, crashLoopAfter: crashLoopAfter
            )
        }
    }

    /// Processes per role and jobs per process.
    public struct WorkerPool: Sendable, Equatable {
        public var processes: Int
        public var concurrency: Int
        /// Replace a process after it has finished this many jobs (0: never).
        public var recycleAfterJobs: Int = 0
        /// Replace a process whose resident memory exceeds this many MiB (0: never).
        public var recycleAboveMemoryMiB: Int = 0
    }

    public struct Workers: Sendable, Equatable {
        public var download = WorkerPool(processes: 1, concurrency: 4)
        public var upload = WorkerPool(processes: 1, concurrency: 4)
        public var store = WorkerPool(processes: 1, concurrency: 2)
        public var cleanup = WorkerPool(processes: 1, concurrency: 1)
        /// Runs only when bots are configured; one process polls them all.
        public var telegram = WorkerPool(processes: 1, concurrency: 1)

        public subscript(role: WorkerRole) -> WorkerPool {
            switch role {
            case .download: download
            case .upload: upload
            case .store: store
            case .cleanup: cleanup
            case .telegram: telegram
            }
        }
    }

    public struct Retry: Sendable, Equatable {
        public var download = RetryPolicies.standard.download
        public var upload = RetryPolicies.standard.upload
        public var video = RetryPolicies.standard.video
        /// The longest `Retry-After` from a server that Ferry honours.
        public var maxRetryAfter: Duration = .seconds(3600)

        /// The policies with ``maxRetryAfter`` applied to each kind.
        public var policies: RetryPolicies {
            var policies = RetryPolicies(download: download, upload: upload, video: video)
            policies.download.maxRetryAfter = maxRetryAfter
            policies.upload.maxRetryAfter = maxRetryAfter
            policies.video.maxRetryAfter = maxRetryAfter
            return policies
        }
    }

    /// The processes a role runs: its pool, except that with no bot configured there is nothing
    /// for a telegram worker to poll.
    public func pool(of role: WorkerRole) -> WorkerPool {
        guard role != .telegram || !telegramBots.isEmpty else { return WorkerPool(processes: 0, concurrency: 1) }
        return workers[role]
    }

    /// Targets whose uploads run one at a time, oldest first: Telegram chats, whose flood control
    /// would make a second upload only hold a slot while it waits its turn.
    public var serialTargets: Set<String> {
        Set(targets.filter { $0.kind == .telegram }.map(\.name))
    }

    /// What every worker process is started with.
    public var workerSettings: WorkerSettings {
        WorkerSettings(downloads: downloads, targets: targets, telegramBots: telegramBots)
    }

    public struct Cleanup: Sendable, Equatable {
        /// How often running jobs without a live owner are looked for.
        public var sweepInterval: Duration = .seconds(120)
        /// How often queued work is checked for vanished input or a missed dispatch.
        public var pendingScanInterval: Duration = .seconds(30)
        /// Jobs examined per pending scan.
        public var pendingBatchSize: Int = 50
        /// Queued work younger than this is left alone by the pending scan.
        public var pendingMinAge: Duration = .seconds(10)
        /// How often a full, recorded cleanup run starts on its own (zero: only when asked).
        public var runInterval: Duration = .seconds(6 * 3600)
        /// Hash every recorded file in a run, not only compare sizes.
        public var verifyHashes: Bool = false
        /// What a run does with a file in a managed folder that no record knows: quarantine, report
        /// or adopt (a download becomes a finished record; a video, which needs an owner, is quarantined).
        public var orphans: String = "quarantine"
        /// A partial file of a waiting job is removed once this old (it cannot be resumed anyway).
        public var partialMaxAge: Duration = .seconds(7 * 86_400)
        /// Files younger than this are left alone by a run (a result may be between rename and record).
        public var settleTime: Duration = .seconds(300)

        /// Finished records older than this are deleted by a run (zero: kept forever).
        public var retainFinished: Duration = .seconds(90 * 86_400)
        /// Keep the record of a finished download whose file is still on disk (else the file goes too).
        public var retainFiles: Bool = true

        /// `retain_files` as the file writes it.
        var retainFilesText: String {
            get { retainFiles ? "true" : "false" }
            set { retainFiles = newValue == "true" }
        }

        /// `verify_hashes` as the file writes it.
        var verifyHashesText: String {
            get { verifyHashes ? "true" : "false" }
            set { verifyHashes = newValue == "true" }
        }
    }

    /// Scheduled online copies of the database.
    public struct Backup: Sendable, Equatable {
        /// How often the daemon copies its database (zero: never on its own; `ferry db backup` still works).
        public var interval: Duration = .seconds(86_400)
        /// How many scheduled copies are kept; older ones are removed after a new one is verified.
        public var keep: Int = 7
        /// Where copies go. Empty: `<state_dir>/backups`; a relative path is inside the state folder.
        public var folder: String = ""
    }

    public struct HTTP: Sendable, Equatable {
        public var address: String = "127.0.0.1"
        public var port: Int = 8080
        /// A file holding the bearer token for mutating endpoints; empty: none.
        public var tokenFile: String = ""
    }

    /// When health warns.
    public struct Health: Sendable, Equatable {
        /// Warn when a managed folder, at the rate its free space fell over the kept samples,
        /// fills up within this time.
        public var diskFullHorizon: Duration = .seconds(24 * 3600)
        /// Warn when the oldest due job of a kind has waited this long.
        public var stuckAfter: Duration = .seconds(600)
    }

    public struct Logging: Sendable, Equatable {
        /// trace, debug, info, notice, warning, error or critical.
        public var level: String = "info"
    }
}

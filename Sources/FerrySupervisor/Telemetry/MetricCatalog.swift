/// Every metric Ferry exports: its Prometheus name, type and help text.
///
/// The code records through swift-metrics by these names; the admin's metrics factory looks the
/// help text up here, so every family in `/metrics` has a `# HELP` line (which `promtool check
/// metrics` requires) and no name is spelled in two places.
public enum MetricCatalog {
    public enum Kind: String, Sendable { case counter, gauge, histogram }

    public struct Entry: Sendable, Hashable {
        public let name: String
        public let kind: Kind
        public let help: String
    }

    static let jobsFinished = Entry(
        name: "ferry_jobs_finished_total", kind: .counter,
        help: "Attempts that ended, by job kind and outcome (succeeded, failed_retryable, failed_permanent, stopped).")
    static let attemptDuration = Entry(
        name: "ferry_job_attempt_duration_seconds", kind: .histogram,
        help: "Time from assigning a job to a worker to its outcome, by job kind and outcome.")
    static let transferredBytes = Entry(
        name: "ferry_transferred_bytes_total", kind: .counter, help: "Bytes moved by workers, by role.")
    static let requeued = Entry(
        name: "ferry_jobs_requeued_total", kind: .counter,
        help: "Jobs put back in the queue because their worker died or hung, by job kind.")
    static let queueJobs = Entry(
        name: "ferry_queue_jobs", kind: .gauge,
        help: "Jobs in the store, by kind and state (on a long history, finished states once a minute).")
    static let queueOldestAge = Entry(
        name: "ferry_queue_oldest_age_seconds", kind: .gauge,
        help: "Age of the oldest job that is due and waiting, by kind (0 when none waits).")
    static let workerRestarts = Entry(
        name: "ferry_worker_restarts_total", kind: .counter, help: "Worker exits, by role and cause.")
    static let workersUp = Entry(
        name: "ferry_workers_up", kind: .gauge, help: "Workers that said hello and are alive, by role.")
    static let workersWanted = Entry(
        name: "ferry_workers_wanted", kind: .gauge, help: "Workers the configuration asks for, by role.")
    static let crashLooping = Entry(
        name: "ferry_role_crash_looping", kind: .gauge, help: "1 while a role keeps failing to stay up, by role.")
    static let stalls = Entry(
        name: "ferry_jobs_stalled_total", kind: .counter,
        help: "Jobs handed to another worker because they moved no bytes for the stall timeout, by role.")
    static let waitingForTurn = Entry(
        name: "ferry_jobs_waiting_for_turn", kind: .gauge,
        help: "Running jobs waiting for their turn under a rate limit (a Telegram chat's flood control), by role.")
    static let heartbeatAge = Entry(
        name: "ferry_worker_heartbeat_age_seconds", kind: .gauge,
        help: "Time since each worker was last heard from, by process.")
    static let watchdogLastPing = Entry(
        name: "ferry_watchdog_last_ping_timestamp_seconds", kind: .gauge,
        help: "Unix time of the last WATCHDOG=1 sent to systemd (0: never, or not run by systemd).")
    static let ready = Entry(
        name: "ferry_ready", kind: .gauge, help: "1 once the supervisor told systemd it is ready.")
    static let systemCPU = Entry(
        name: "ferry_system_cpu_busy_ratio", kind: .gauge,
        help: "Share of all CPUs busy between the last two samples, 0 to 1.")
    static let systemLoad = Entry(
        name: "ferry_system_load_average", kind: .gauge, help: "System load average, by period (1m, 5m, 15m).")
    static let systemMemory = Entry(
        name: "ferry_system_memory_bytes", kind: .gauge,
        help: "System memory, by kind (total, available, swap_total, swap_free).")
    static let diskBytes = Entry(
        name: "ferry_disk_bytes", kind: .gauge,
        help: "File system of each managed folder, by folder and kind (total, free, available).")
    static let diskInodes = Entry(
        name: "ferry_disk_inodes", kind: .gauge,
        help: "Inodes of each managed folder's file system, by folder and kind (total, free).")
    static let processCPU = Entry(
        name: "ferry_process_cpu_seconds", kind: .gauge, help: "CPU time used since start, by process.")
    static let processMemory = Entry(
        name: "ferry_process_resident_memory_bytes", kind: .gauge, help: "Resident memory, by process.")
    static let processFDs = Entry(
        name: "ferry_process_open_fds", kind: .gauge, help: "Open file descriptors, by process.")
    static let processThreads = Entry(name: "ferry_process_threads", kind: .gauge, help: "Threads, by process.")
    static let processUptime = Entry(
        name: "ferry_process_uptime_seconds", kind: .gauge, help: "Time since the process started, by process.")

    static let telegramResends = Entry(
        name: "ferry_telegram_resends_total", kind: .counter,
        help:
            "Sends to Telegram whose answer was lost after the file went out, so they are sent again and the chat may show the file twice."
    )
    static let backupLastSuccess = Entry(
        name: "ferry_backup_last_success_timestamp_seconds", kind: .gauge,
        help: "Unix time of the newest verified database backup (0: none yet).")
    static let backupSize = Entry(
        name: "ferry_backup_last_size_bytes", kind: .gauge, help: "Size of the newest verified database backup.")
    static let backups = Entry(
        name: "ferry_backups_total", kind: .counter,
        help: "Scheduled database backups attempted since start, by outcome (succeeded, failed).")

    static let nodeInfo = Entry(
        name: "ferry_node_info", kind: .gauge,
        help: "1, labelled with this node's id and name (PostgreSQL store only): join other series on it.")
    static let nodeLeaseLeft = Entry(
        name: "ferry_node_lease_seconds_left", kind: .gauge,
        help: "Time left on this node's lease, counted from when its last renewal was sent, by node (0 once fenced).")
    static let clusterNodes = Entry(
        name: "ferry_cluster_nodes", kind: .gauge,
        help: "Nodes on the shared queue, by state (live; dead: lease ran out, not yet taken over).")
    static let telegramPolled = Entry(
        name: "ferry_telegram_bot_polled", kind: .gauge,
        help: "1 when this node long-polls the bot, else 0, by bot (PostgreSQL store only: one node per bot polls).")
    static let takenOver = Entry(
        name: "ferry_node_jobs_taken_over_total", kind: .counter,
        help: "Jobs this node put back from nodes whose lease ran out, by node.")

    public static let all: [Entry] = [
        jobsFinished, attemptDuration, transferredBytes, requeued, queueJobs, queueOldestAge, workerRestarts,
        workersUp, workersWanted, crashLooping, stalls, waitingForTurn, heartbeatAge, watchdogLastPing, ready,
        systemCPU, systemLoad,
        systemMemory, diskBytes, diskInodes, processCPU, processMemory, processFDs, processThreads, processUptime,
        backupLastSuccess, backupSize, backups, telegramResends, nodeInfo, nodeLeaseLeft, clusterNodes, takenOver,
        telegramPolled,
    ]

    /// The help text of a metric by name; nil for a name Ferry does not define.
    public static func entry(named name: String) -> Entry? { byName[name] }

    private static let byName = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
}

import FerryCore
import Foundation

/// The list of every setting, in the order the documented file shows them.
enum ConfigSchema {
    static var settings: [ConfigSetting] {
        var settings: [ConfigSetting] = [
            .text(
                "state_dir", \.stateDirectory, expected: "a folder path", valid: { !$0.contains("\0") },
                "Folder for the database, spool and stored files. Empty: $STATE_DIRECTORY under systemd, else ./ferry-state."
            ),
            .text(
                "database.path", \.database.path, expected: "a file path", valid: { !$0.contains("\0") },
                "Database file; a relative path is inside state_dir. Empty: <state_dir>/ferry.sqlite."),
            .text(
                "database.url", \.database.url, expected: "empty or postgres://USER@HOST:PORT/DATABASE",
                valid: { $0.isEmpty || $0.hasPrefix("postgres://") || $0.hasPrefix("postgresql://") },
                "PostgreSQL store shared by several nodes, each a `ferry serve` with its own state_dir. Empty: the SQLite file."
            ),
            .text(
                "database.password_file", \.database.passwordFile, expected: "a file path",
                valid: { !$0.contains("\0") },
                "File holding the PostgreSQL password, read at start and never logged. Empty: $FERRY_DATABASE_PASSWORD, if set."
            ),
            .choice(
                "database.synchronous", \.database.synchronous, among: ["normal", "full", "extra"],
                "How hard each commit waits for the disk: full survives power loss, normal only process crashes."),
            .duration(
                "database.busy_timeout", \.database.busyTimeout, in: .milliseconds(100)...Duration.seconds(600),
                "How long a write waits for another process's lock on the database."),
            .text(
                "cluster.node_name", \.cluster.nodeName, expected: "letters, digits, '-' and '_' (at most 63)",
                valid: { $0.count <= 63 && $0.allSatisfy(FerryConfiguration.Cluster.allowedInNodeName) },
                "With database.url: this node's name in the cluster. Empty: the host name."),
            .duration(
                "cluster.lease", \.cluster.lease, in: .seconds(3)...Duration.seconds(600),
                "With database.url: a node silent this long is dead and its jobs go to the others; renewed every third."
            ),
            .duration(
                "supervisor.heartbeat_interval", \.supervisor.heartbeatInterval,
                in: .milliseconds(100)...Duration.seconds(600),
                "How often each worker tells the supervisor it is alive."),
            .duration(
                "supervisor.hang_timeout", \.supervisor.hangTimeout, in: .seconds(1)...Duration.seconds(3600),
                "A worker silent this long is hung: it is killed and replaced, and its jobs requeued."),
            .duration(
                "supervisor.shutdown_grace", \.supervisor.shutdownGrace, in: .seconds(1)...Duration.seconds(3600),
                "On stop, how long workers may finish or checkpoint before they are killed."),
            .duration(
                "supervisor.kill_grace", \.supervisor.killGrace, in: .milliseconds(100)...Duration.seconds(300),
                "Between SIGTERM and SIGKILL when a hung or misbehaving worker must go."),
            .duration(
                "supervisor.stall_timeout", \.supervisor.stallTimeout, in: .zero...Duration.seconds(86_400),
                "A job that moved no bytes this long is stalled: reported and handed to another worker (0: off)."),
            .duration(
                "supervisor.metrics_interval", \.supervisor.metricsInterval, in: .seconds(1)...Duration.seconds(600),
                "How often CPU, memory, disks and every process are sampled (an hour of samples is kept)."),
            .duration(
                "supervisor.restart.initial_delay", \.supervisor.restart.initialDelay,
                in: .zero...Duration.seconds(600),
                "Wait before the second restart in a row of a failing worker; the first is immediate."),
            .duration(
                "supervisor.restart.max_delay", \.supervisor.restart.maxDelay, in: .zero...Duration.seconds(3600),
                "Cap on the wait between restarts; a crash-looping role keeps being retried at this pace."),
            .duration(
                "supervisor.restart.stable_after", \.supervisor.restart.stableAfter,
                in: .seconds(1)...Duration.seconds(86_400),
                "A worker that ran this long resets its role's backoff."),
            .integer(
                "supervisor.restart.crash_loop_after", \.supervisor.restart.crashLoopAfter, in: 1...1000,
                "Failures in a row after which a role is reported crash-looping."),
        ]
        for role in WorkerRole.allCases {
            let pool: WritableKeyPath<FerryConfiguration, FerryConfiguration.WorkerPool> =
                switch role {
                case .download: \.workers.download
                case .upload: \.workers.upload
                case .store: \.workers.store
                case .cleanup: \.workers.cleanup
                case .telegram: \.workers.telegram
                }
            settings += [
                .integer(
                    "workers.\(role).processes", pool.appending(path: \.processes), in: 0...64,
                    "Worker processes of the \(role) role (0 turns the role off)."),
                .integer(
                    "workers.\(role).concurrency", pool.appending(path: \.concurrency), in: 1...256,
                    "Jobs each \(role) process runs at once."),
                .integer(
                    "workers.\(role).recycle_after_jobs", pool.appending(path: \.recycleAfterJobs), in: 0...10_000_000,
                    "Replace a \(role) process after this many jobs, without losing work (0: never)."),
                .integer(
                    "workers.\(role).recycle_above_memory_mib", pool.appending(path: \.recycleAboveMemoryMiB),
                    in: 0...1_048_576,
                    "Replace a \(role) process whose resident memory exceeds this many MiB (0: never)."),
            ]
        }
        settings += ConfigSetting.retryPolicy("download", \.retry.download, minimumAttempts: 1)
        settings += ConfigSetting.retryPolicy("upload", \.retry.upload, minimumAttempts: 1)
        // Field lesson: a generated video saved by one best-effort call is lost on the first blip.
        settings += ConfigSetting.retryPolicy("video", \.retry.video, minimumAttempts: 4)
        settings += [
            .duration(
                "retry.max_retry_after", \.retry.maxRetryAfter, in: .seconds(1)...Duration.seconds(86_400),
                "The longest Retry-After from a server that is honoured; longer ones are cut to this."),
            .duration(
                "downloads.connect_timeout", \.downloads.connectTimeout, in: .milliseconds(100)...Duration.seconds(600),
                "Longest wait for a connection to an origin to be set up."),
            .duration(
                "downloads.idle_timeout", \.downloads.idleTimeout, in: .seconds(1)...Duration.seconds(3600),
                "Longest silence from an origin, before its answer or in the middle of its body."),
            .integer(
                "downloads.max_redirects", \.downloads.maxRedirects, in: 0...50,
                "Redirects followed before a download fails."),
            .bytes(
                "downloads.max_size", \.downloads.maxSize, in: 0...(1 << 50),
                "Largest file a download may be; a bigger one fails for good (0: no limit)."),
            .text(
                "downloads.allowed_schemes", \.downloads.allowedSchemesText,
                expected: "a comma-separated list of http, https, ftp, sftp and magnet",
                valid: { DownloadSettings.schemes(fromText: $0) != nil },
                "URL schemes a download may use, redirects included (http, https; ftp, sftp and magnet go through aria2)."
            ),
            .bytes(
                "downloads.spool_reserve", \.downloads.spoolReserve, in: 0...(1 << 50),
                "Free space the spool folder keeps; no download starts while it has less (it waits)."),
            .integer(
                "downloads.checksum_attempts", \.downloads.checksumAttempts, in: 1...100,
                "Attempts whose content fails its size or SHA-256 check before the download fails for good."),
        ]
        settings += ConfigSetting.aria2Settings
        settings += [
            .duration(
                "cleanup.sweep_interval", \.cleanup.sweepInterval, in: .seconds(1)...Duration.seconds(86_400),
                "How often running jobs without a live owner are looked for."),
            .duration(
                "cleanup.pending_scan_interval", \.cleanup.pendingScanInterval,
                in: .seconds(1)...Duration.seconds(86_400),
                "How often queued work is checked for vanished input or a missed dispatch."),
            .integer(
                "cleanup.pending_batch_size", \.cleanup.pendingBatchSize, in: 1...10_000,
                "Queued jobs examined per pending scan."),
            .duration(
                "cleanup.pending_min_age", \.cleanup.pendingMinAge, in: .zero...Duration.seconds(86_400),
                "Queued jobs younger than this are left to the normal dispatch."),
            .duration(
                "cleanup.run_interval", \.cleanup.runInterval, in: .zero...Duration.seconds(30 * 86_400),
                "How often a full, recorded cleanup run (reconcile, retention) starts on its own (0s: only when asked)."
            ),
            .choice(
                "cleanup.verify_hashes", \.cleanup.verifyHashesText, among: ["false", "true"],
                "Hash every recorded file in a run instead of comparing sizes only (reads every byte)."),
            .choice(
                "cleanup.orphans", \.cleanup.orphans, among: ["quarantine", "report", "adopt"],
                "A file in a managed folder that no record knows: move it to <state_dir>/quarantine, only report it, or adopt a download as a finished record (videos, which need an owner, are quarantined)."
            ),
            .duration(
                "cleanup.partial_max_age", \.cleanup.partialMaxAge, in: .seconds(60)...Duration.seconds(365 * 86_400),
                "A partial download of a job still waiting is removed once this old."),
            .duration(
                "cleanup.settle_time", \.cleanup.settleTime, in: .zero...Duration.seconds(86_400),
                "Files younger than this are left alone by a run: a result may be between its rename and its record."),
            .duration(
                "cleanup.retain_finished", \.cleanup.retainFinished, in: .zero...Duration.seconds(3650 * 86_400),
                "Finished download records (with their uploads and events) and failed videos older than this are deleted by a run (0s: kept forever). Stored videos are never deleted."
            ),
            .choice(
                "cleanup.retain_files", \.cleanup.retainFilesText, among: ["true", "false"],
                "true: a finished download whose file is still on disk keeps its record; false: retention deletes the file with the record."
            ),
            .duration(
                "backup.interval", \.backup.interval, in: .zero...Duration.seconds(30 * 86_400),
                "How often the daemon writes a verified online copy of its database (0s: only `ferry db backup`)."),
            .integer(
                "backup.keep", \.backup.keep, in: 1...10_000,
                "Scheduled copies kept; the oldest go once a new one is verified."),
            .text(
                "backup.folder", \.backup.folder, expected: "a folder path", valid: { !$0.contains("\0") },
                "Folder for database copies; a relative path is inside state_dir. Empty: <state_dir>/backups."),
            .text(
                "http.address", \.http.address, expected: "an IPv4 or IPv6 address such as 127.0.0.1 or ::1",
                valid: NetworkAddress.isValid,
                "Address the admin API and page listen on; anything but loopback requires http.token_file."),
            .integer("http.port", \.http.port, in: 0...65_535, "Port of the admin API and page (0: any free port)."),
            .text(
                "http.token_file", \.http.tokenFile, expected: "a file path", valid: { !$0.contains("\0") },
                "File holding the bearer token for state-changing requests. Empty: none (loopback only)."),
            .duration(
                "health.disk_full_horizon", \.health.diskFullHorizon, in: .seconds(60)...Duration.seconds(30 * 86_400),
                "Warn when a managed folder, at its recent rate, fills up within this time."),
            .duration(
                "health.stuck_after", \.health.stuckAfter, in: .seconds(1)...Duration.seconds(30 * 86_400),
                "Warn when the oldest due job of a kind has waited this long."),
            .choice(
                "logging.level", \.logging.level,
                among: ["trace", "debug", "info", "notice", "warning", "error", "critical"],
                "Least severe log level written."),
        ]
        return settings
    }

    /// Settings by key.
    static var byKey: [String: ConfigSetting] {
        Dictionary(uniqueKeysWithValues: settings.map { ($0.key, $0) })
    }

    /// Every key that names a section (a mapping of settings), such as `workers` or `retry.video`.
    static var sections: Set<String> {
        var sections = Set<String>()
        for setting in settings {
            var parts = setting.key.split(separator: ".").dropLast()
            while !parts.isEmpty {
                sections.insert(parts.joined(separator: "."))
                parts = parts.dropLast()
            }
        }
        return sections
    }
}

/// Checks for the listen address.
enum NetworkAddress {
    static func isValid(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    /// Whether only this machine can reach the address.
    static func isLoopback(_ text: String) -> Bool {
        text == "::1" || text.hasPrefix("127.")
    }
}

import FerryCore
import FerrySupervisor
import Foundation

/// Judges the machine and the fleet from the last samples: what `/api/health/system` answers.
///
/// Everything here reads values the supervisor already holds; nothing touches `/proc`.
struct SystemHealth {
    var ready: Bool
    /// Since the supervisor started, on the monotonic clock.
    var uptime: Duration
    var fleet: FleetSnapshot
    var samples: [MetricsSnapshot]
    var writeProbe: (at: Date, error: StoreError?)?
    /// Scheduled backups, as the supervisor last saw them.
    var backup: BackupStatus?
    var hangTimeout: Duration
    /// Warn when a folder, at its rate over the kept history, fills up within this time.
    var diskFullHorizon: Duration
    var now: Date
    /// Whether each bot's Bot API was reachable when its worker last said.
    var telegram: [String: TelegramBotStatus] = [:]
    /// On PostgreSQL: this node's lease and the other nodes.
    var cluster: ClusterView?

    func document() -> HealthDocument {
        var document = HealthDocument(
            version: FerryVersion.current, releaseId: FerryVersion.current,
            description: "Ferry supervisor: workers, machine and database")
        document.add(
            "ferry:ready",
            HealthCheck(
                type: "component", value: ready ? 1 : 0, status: ready ? .pass : .warn, time: now,
                output: "starting: waiting for every worker to say hello"))
        document.add(
            "uptime",
            HealthCheck(type: "system", value: uptime.inSeconds.rounded(), unit: "s", time: now))
        addDatabase(to: &document)
        cluster?.add(to: &document)
        addBackup(to: &document)
        addRoles(to: &document)
        addWorkers(to: &document)
        addMachine(to: &document)
        addTelegram(to: &document)
        return document
    }

    /// A bot whose worker cannot reach its Bot API makes health warn: nothing sent to it arrives.
    private func addTelegram(to document: inout HealthDocument) {
        for status in telegram.values.sorted(by: { $0.bot < $1.bot }) {
            document.add(
                "telegram:bot",
                HealthCheck(
                    id: status.bot, type: "component", value: status.reachable ? 1 : 0,
                    status: status.reachable ? .pass : .warn, time: status.at,
                    output: status.reachable
                        ? nil : "bot \(status.bot) cannot reach Telegram: \(status.problem ?? "no answer")"))
        }
    }

    private func addDatabase(to document: inout HealthDocument) {
        guard let writeProbe else { return }
        document.add(
            "database:writable",
            HealthCheck(
                type: "datastore", value: writeProbe.error == nil ? 1 : 0,
                status: writeProbe.error == nil ? .pass : .fail, time: writeProbe.at,
                output: writeProbe.error.map { "the database cannot be written: \($0.message)" }))
    }

    /// `database:backup`: warns when the last scheduled backup failed, or when the newest copy
    /// is older than twice the interval (or there is none after that long). Absent when off.
    private func addBackup(to document: inout HealthDocument) {
        guard let backup, backup.interval > .zero else { return }
        let limit = 2 * backup.interval.inSeconds
        let age = backup.lastSuccess.map { now.timeIntervalSince($0.at) }
        var status: HealthStatus = .pass
        var output: String?
        if backup.lastAttemptFailed, let failure = backup.lastFailure {
            status = .warn
            output = "the last database backup failed: \(failure.message)"
        } else if let age, age > limit {
            status = .warn
            output = "the newest database backup is \(Int(age / 3600)) h old (backup.interval is \(backup.interval))"
        } else if age == nil, uptime.inSeconds > limit {
            status = .warn
            output = "no database backup has been made yet in \(backup.folder)"
        }
        var details = ["folder": backup.folder]
        if let last = backup.lastSuccess {
            details["last_path"] = last.path
            details["last_bytes"] = "\(last.size)"
            details["last_at"] = ISO8601DateFormatter().string(from: last.at)
        }
        document.add(
            "database:backup",
            HealthCheck(
                type: "datastore", value: age.map { $0.rounded() }, unit: "s", status: status, time: now,
                output: output, details: details))
    }

    private func addRoles(to document: inout HealthDocument) {
        for role in fleet.roles where role.wanted > 0 || role.up > 0 {
            let status: HealthStatus =
                role.crashLooping ? .fail : (role.up < role.wanted || role.heldReason != nil ? .warn : .pass)
            let output =
                role.crashLooping
                ? "the \(role.role) workers keep failing (last: \(role.lastCause?.rawValue ?? "unknown")); see the last exits"
                : role.heldReason ?? "\(role.up) of \(role.wanted) \(role.role) workers are up"
            document.add(
                "\(role.role):workers",
                HealthCheck(
                    id: role.role.rawValue, type: "role", value: Double(role.up), status: status, time: now,
                    output: output,
                    details: [
                        "wanted": "\(role.wanted)", "restarts": "\(role.restarts)", "stalls": "\(role.stalls)",
                        "crash_looping": "\(role.crashLooping)",
                    ]))
        }
    }

    private func addWorkers(to document: inout HealthDocument) {
        let latest = samples.last
        for worker in fleet.workers {
            let age = worker.heartbeatAge?.inSeconds ?? 0
            var status: HealthStatus = .pass
            var output: String?
            if age > hangTimeout.inSeconds / 2 {
                status = .warn
                output = "\(worker.id) has not been heard from for \(Int(age)) s"
            } else if worker.stalled {
                status = .warn
                output = "\(worker.id) had a job that moved no bytes for the stall timeout"
            }
            var details = [
                "role": worker.role.rawValue, "pid": worker.pid.map(String.init) ?? "",
                "state": worker.draining ? "draining" : (worker.ready ? "ready" : "starting"),
                "jobs": worker.jobs.map(\.description).joined(separator: ","),
                "finished_jobs": "\(worker.finishedJobs)",
            ]
            if let process = latest?.processes[worker.id.rawValue] {
                details["cpu_seconds"] = String(format: "%.2f", process.cpuSeconds)
                details["resident_bytes"] = "\(process.residentBytes)"
                details["open_fds"] = "\(process.openFileDescriptors)"
            }
            document.add(
                "worker:heartbeat",
                HealthCheck(
                    id: worker.id.rawValue, type: "worker", value: age.rounded(toPlaces: 3), unit: "s", status: status,
                    time: now, output: output, details: details))
        }
    }

    private func addMachine(to document: inout HealthDocument) {
        guard let latest = samples.last else { return }
        let system = latest.system
        if let busy = system.cpuBusyFraction {
            document.add(
                "cpu:utilization",
                HealthCheck(type: "system", value: (busy * 100).rounded(toPlaces: 1), unit: "percent", time: latest.at))
        }
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        document.add(
            "cpu:load",
            HealthCheck(
                type: "system", value: system.load1, status: system.load1 > 4 * cores ? .warn : .pass, time: latest.at,
                output: "the load average is \(system.load1) on \(Int(cores)) cores"))
        let availableShare = Double(system.memoryAvailableBytes) / Double(max(1, system.memoryTotalBytes))
        document.add(
            "memory:available",
            HealthCheck(
                type: "system", value: Double(system.memoryAvailableBytes), unit: "bytes",
                status: availableShare < 0.05 ? .warn : .pass, time: latest.at,
                output: "only \(Int(availableShare * 100)) % of memory is available"))
        for disk in system.disks { addDisk(disk, at: latest.at, to: &document) }
    }

    private func addDisk(_ disk: DiskSample, at time: Date, to document: inout HealthDocument) {
        let key = "disk:\(disk.label)"
        switch disk.usage {
        case .failure(let error):
            document.add(
                key,
                HealthCheck(
                    id: disk.path, type: "folder", status: .fail, time: time,
                    output: "the \(disk.label) folder \(disk.path) cannot be measured: \(error)"))
        case .success(let usage):
            let freeShare = Double(usage.availableBytes) / Double(max(1, usage.totalBytes))
            var status: HealthStatus = freeShare < 0.03 ? .fail : (freeShare < 0.10 ? .warn : .pass)
            var output = "the \(disk.label) folder \(disk.path) has \(Int(freeShare * 100)) % space left"
            if status == .pass, let fullIn = timeUntilFull(label: disk.label), fullIn < diskFullHorizon.inSeconds {
                status = .warn
                output =
                    "the \(disk.label) folder \(disk.path) fills up in about \(Int(fullIn / 3600)) h at its recent rate"
            }
            document.add(
                key,
                HealthCheck(
                    id: disk.path, type: "folder", value: Double(usage.availableBytes), unit: "bytes", status: status,
                    time: time, output: output,
                    details: ["total_bytes": "\(usage.totalBytes)", "free_inodes": "\(usage.freeInodes)"]))
            let inodeShare = Double(usage.freeInodes) / Double(max(1, usage.totalInodes))
            if usage.totalInodes > 0 {
                document.add(
                    "inodes:\(disk.label)",
                    HealthCheck(
                        id: disk.path, type: "folder", value: Double(usage.freeInodes),
                        status: inodeShare < 0.05 ? .warn : .pass,
                        time: time, output: "the \(disk.label) folder has \(Int(inodeShare * 100)) % of its inodes left"
                    ))
            }
        }
    }

    /// Seconds until the folder's file system is full at the rate its free space fell over the
    /// kept history (at least ten minutes of it); nil when it is not falling.
    func timeUntilFull(label: String) -> Double? {
        let points: [(Date, Int)] = samples.compactMap { sample in
            guard let disk = sample.system.disks.first(where: { $0.label == label }),
                case .success(let usage) = disk.usage
            else { return nil }
            return (sample.at, usage.availableBytes)
        }
        guard let first = points.first, let last = points.last else { return nil }
        let elapsed = last.0.timeIntervalSince(first.0)
        let fallen = Double(first.1 - last.1)
        guard elapsed >= 600, fallen > 0 else { return nil }
        return Double(last.1) / (fallen / elapsed)
    }
}

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        let scale = pow(10, Double(places))
        return (self * scale).rounded() / scale
    }
}

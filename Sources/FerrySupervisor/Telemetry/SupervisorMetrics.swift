import CoreMetrics
import FerryCore
import Foundation
public import Metrics

/// Records what the supervisor sees into swift-metrics, under the names in ``MetricCatalog``.
///
/// Everything here is cheap and called from the supervision loop or the sampler; a scrape of
/// `/metrics` reads the values recorded last and never walks `/proc` itself.
public struct SupervisorMetrics: Sendable {
    private let factory: any MetricsFactory

    /// - Parameter factory: where metrics go; the admin passes its Prometheus registry's factory.
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
    }

    // MARK: Jobs

    func attemptEnded(kind: JobKind, outcome: String, after duration: Duration) {
        let dimensions = [("kind", kind.rawValue), ("outcome", outcome)]
        Counter(label: MetricCatalog.jobsFinished.name, dimensions: dimensions, factory: factory).increment()
        Metrics.Timer(label: MetricCatalog.attemptDuration.name, dimensions: dimensions, factory: factory)
            .record(duration: duration)
    }

    func bytesMoved(_ bytes: Int64, role: WorkerRole) {
        guard bytes > 0 else { return }
        Counter(label: MetricCatalog.transferredBytes.name, dimensions: [("role", role.rawValue)], factory: factory)
            .increment(by: bytes)
    }

    /// An attempt ended with its send to Telegram unanswered: the next attempt sends again.
    func telegramAnswerLost(_ result: WorkerMessage.Outcome.Result) {
        guard case .failed(let failure) = result, failure.code == "telegram_answer_lost" else { return }
        Counter(label: MetricCatalog.telegramResends.name, dimensions: [], factory: factory).increment()
    }

    func requeued(_ jobs: [RequeuedJob]) {
        for job in jobs {
            Counter(label: MetricCatalog.requeued.name, dimensions: [("kind", job.job.kind.rawValue)], factory: factory)
                .increment()
        }
    }

    // MARK: Cluster

    /// This node's lease as last renewed (zero once fenced), and the cluster's nodes by state.
    func node(_ identity: NodeIdentity, leaseLeft: Duration, nodes: [ClusterNode]?) {
        let node = [("node", identity.id)]
        gauge(MetricCatalog.nodeInfo, node + [("name", identity.name)]).record(1)
        gauge(MetricCatalog.nodeLeaseLeft, node).record(max(0, leaseLeft.inSeconds))
        guard let nodes else { return }
        gauge(MetricCatalog.clusterNodes, [("state", "live")]).record(nodes.filter(\.isLive).count)
        gauge(MetricCatalog.clusterNodes, [("state", "dead")])
            .record(nodes.filter { $0.stopReason == nil && !$0.isLive }.count)
    }

    /// Which of the configured bots this node polls, after an election.
    func telegramPolled(_ bots: [String], here: Set<String>) {
        for bot in bots { gauge(MetricCatalog.telegramPolled, [("bot", bot)]).record(here.contains(bot) ? 1 : 0) }
    }

    func tookOver(_ jobs: [RequeuedJob], node: NodeIdentity) {
        Counter(label: MetricCatalog.takenOver.name, dimensions: [("node", node.id)], factory: factory)
            .increment(by: jobs.count)
    }

    func stalled(role: WorkerRole) {
        Counter(label: MetricCatalog.stalls.name, dimensions: [("role", role.rawValue)], factory: factory).increment()
    }

    /// Queue depth per kind and state (every pair, zeros included, so series do not vanish) and
    /// the age of the oldest waiting job per kind.
    func queue(_ counts: [QueueCount], now: Date) {
        for kind in JobKind.allCases {
            for state in JobLifecycle.of(kind).states.sorted(by: { $0.rawValue < $1.rawValue }) {
                let count = counts.first { $0.kind == kind && $0.state == state }?.count ?? 0
                gauge(MetricCatalog.queueJobs, [("kind", kind.rawValue), ("state", state.rawValue)]).record(count)
            }
            let oldest = counts.filter { $0.kind == kind }.compactMap(\.oldestCreatedAt).min()
            gauge(MetricCatalog.queueOldestAge, [("kind", kind.rawValue)])
                .record(oldest.map { max(0, now.timeIntervalSince($0)) } ?? 0)
        }
    }

    // MARK: Workers

    func workerExited(role: WorkerRole, cause: WorkerExitCause) {
        Counter(
            label: MetricCatalog.workerRestarts.name, dimensions: [("role", role.rawValue), ("cause", cause.rawValue)],
            factory: factory
        ).increment()
    }

    func fleet(_ snapshot: FleetSnapshot) {
        for role in snapshot.roles {
            let dimensions = [("role", role.role.rawValue)]
            gauge(MetricCatalog.workersUp, dimensions).record(role.up)
            gauge(MetricCatalog.workersWanted, dimensions).record(role.wanted)
            gauge(MetricCatalog.crashLooping, dimensions).record(role.crashLooping ? 1 : 0)
            let waiting = snapshot.workers.filter { $0.role == role.role }.map(\.waitingForTurn.count).reduce(0, +)
            gauge(MetricCatalog.waitingForTurn, dimensions).record(waiting)
        }
        for worker in snapshot.workers {
            guard let age = worker.heartbeatAge else { continue }
            gauge(MetricCatalog.heartbeatAge, [("process", worker.processLabel)]).record(age.inSeconds)
        }
    }

    func watchdogPinged(at date: Date) {
        gauge(MetricCatalog.watchdogLastPing, []).record(date.timeIntervalSince1970)
    }

    func ready(_ isReady: Bool) {
        gauge(MetricCatalog.ready, []).record(isReady ? 1 : 0)
    }

    // MARK: Samples

    func sampled(_ snapshot: MetricsSnapshot) {
        let system = snapshot.system
        if let busy = system.cpuBusyFraction { gauge(MetricCatalog.systemCPU, []).record(busy) }
        for (period, value) in [("1m", system.load1), ("5m", system.load5), ("15m", system.load15)] {
            gauge(MetricCatalog.systemLoad, [("period", period)]).record(value)
        }
        for (kind, value) in [
            ("total", system.memoryTotalBytes), ("available", system.memoryAvailableBytes),
            ("swap_total", system.swapTotalBytes), ("swap_free", system.swapFreeBytes),
        ] {
            gauge(MetricCatalog.systemMemory, [("kind", kind)]).record(value)
        }
        for disk in system.disks {
            guard case .success(let usage) = disk.usage else { continue }
            for (kind, value) in [
                ("total", usage.totalBytes), ("free", usage.freeBytes), ("available", usage.availableBytes),
            ] {
                gauge(MetricCatalog.diskBytes, [("folder", disk.label), ("kind", kind)]).record(value)
            }
            for (kind, value) in [("total", usage.totalInodes), ("free", usage.freeInodes)] {
                gauge(MetricCatalog.diskInodes, [("folder", disk.label), ("kind", kind)]).record(value)
            }
        }
        for (label, process) in snapshot.processes {
            let dimensions = [("process", FleetSnapshot.Worker.processLabel(for: label))]
            gauge(MetricCatalog.processCPU, dimensions).record(process.cpuSeconds)
            gauge(MetricCatalog.processMemory, dimensions).record(process.residentBytes)
            gauge(MetricCatalog.processFDs, dimensions).record(process.openFileDescriptors)
            gauge(MetricCatalog.processThreads, dimensions).record(process.threads)
            gauge(MetricCatalog.processUptime, dimensions).record(process.uptimeSeconds)
        }
    }

    // MARK: Backups

    /// A verified backup exists from `at`; `counted` when it was made now (not found at start).
    func backupSucceeded(at: Date, size: Int64, counted: Bool) {
        gauge(MetricCatalog.backupLastSuccess, []).record(at.timeIntervalSince1970)
        gauge(MetricCatalog.backupSize, []).record(size)
        if counted {
            Counter(label: MetricCatalog.backups.name, dimensions: [("outcome", "succeeded")], factory: factory)
                .increment()
        }
    }

    func backupFailed() {
        Counter(label: MetricCatalog.backups.name, dimensions: [("outcome", "failed")], factory: factory).increment()
    }

    private func gauge(_ entry: MetricCatalog.Entry, _ dimensions: [(String, String)]) -> Gauge {
        Gauge(label: entry.name, dimensions: dimensions, factory: factory)
    }
}

extension FleetSnapshot.Worker {
    /// The worker's slot (`download-1`), stable across restarts: a metric label per slot instead of
    /// per process generation keeps the number of series bounded.
    public var processLabel: String { Self.processLabel(for: id.rawValue) }

    static func processLabel(for label: String) -> String {
        String(label.prefix { $0 != "." })
    }
}

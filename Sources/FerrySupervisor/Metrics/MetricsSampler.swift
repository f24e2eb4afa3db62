public import Foundation

/// Samples the machine, the managed folders' disks and the daemon's processes, and keeps recent
/// samples, so health checks and requests read the last sample instead of doing the work.
///
/// It holds no timer: the supervisor's loop calls ``sample(processes:at:)`` on its interval.
/// CPU shares come from the change in counters between two calls, timed with a monotonic clock
/// so a wall-clock step cannot distort them.
public actor MetricsSampler {
    /// 360: an hour of samples at the default `supervisor.metrics_interval` of 10 s.
    public static let defaultHistoryCapacity = historyCapacity(coveringAnHourAt: .seconds(10))

    /// How many samples keep one hour: capacity = 3600 s / interval, rounded up.
    public static func historyCapacity(coveringAnHourAt interval: Duration) -> Int {
        let interval = max(interval, .milliseconds(1))
        return Int((Duration.seconds(3600) / interval).rounded(.up))
    }

    private let folders: [(label: String, path: String)]
    private var samples: SampleHistory<MetricsSnapshot>
    private var previousCPU: ProcFiles.CPUCounters?
    private var previousProcesses: [Int32: ProcessCounters] = [:]

    /// - Parameters:
    ///   - folders: the managed folders whose file systems to measure, each with a label for display.
    ///   - historyCapacity: how many snapshots to keep; see ``historyCapacity(coveringAnHourAt:)``.
    public init(folders: [(label: String, path: String)], historyCapacity: Int = defaultHistoryCapacity) {
        self.folders = folders
        self.samples = SampleHistory(capacity: max(1, historyCapacity))
    }

    /// Reads everything once, records the snapshot in the history and returns it.
    ///
    /// A process that has exited gets no entry. Pids not asked for are forgotten, so one asked for
    /// again later starts over without a CPU share.
    /// - Important: memory and load read as zero if `/proc` cannot be read, which Linux never does.
    public func sample(processes: [(label: String, pid: Int32)], at date: Date = Date()) -> MetricsSnapshot {
        let systemUptime = ProcFiles.uptime() ?? 0
        var counters: [Int32: ProcessCounters] = [:]
        var byPID: [Int32: ProcessSample] = [:]
        for pid in Set(processes.map(\.pid)) {
            let now = ContinuousClock.now
            guard let reading = ProcFiles.process(pid: pid) else { continue }
            let current = ProcessCounters(reading.stat, at: now)
            counters[pid] = current
            let ticks = Double(ProcFiles.ticksPerSecond)
            byPID[pid] = ProcessSample(
                pid: pid, cpuSeconds: current.cpuSeconds,
                cpuFraction: previousProcesses[pid].flatMap { current.cpuFraction(since: $0) },
                residentBytes: reading.residentBytes, openFileDescriptors: reading.openFileDescriptors,
                threads: reading.stat.threads,
                uptimeSeconds: max(0, systemUptime - Double(reading.stat.startTicks) / ticks))
        }
        previousProcesses = counters
        var byLabel: [String: ProcessSample] = [:]
        for (label, pid) in processes { byLabel[label] = byPID[pid] }
        let snapshot = MetricsSnapshot(system: sampleSystem(at: date), processes: byLabel)
        samples.append(snapshot)
        return snapshot
    }

    /// The kept snapshots, oldest first.
    public func history() -> [MetricsSnapshot] { samples.elements }

    public func latest() -> MetricsSnapshot? { samples.last }

    private func sampleSystem(at date: Date) -> SystemSample {
        let cpu = ProcFiles.cpuCounters()
        defer { previousCPU = cpu }
        let load = ProcFiles.loadAverage()
        let memory = ProcFiles.memoryInfo()
        let disks = folders.map { folder in
            DiskSample(
                label: folder.label, path: folder.path,
                usage: Result { () throws(DiskUsageError) in try DiskUsage.measure(folder: folder.path) })
        }
        return SystemSample(
            at: date, cpuBusyFraction: cpu.flatMap { cpu in previousCPU.flatMap { cpu.busyFraction(since: $0) } },
            load1: load?.one ?? 0, load5: load?.five ?? 0, load15: load?.fifteen ?? 0,
            memoryTotalBytes: memory?.totalBytes ?? 0, memoryAvailableBytes: memory?.availableBytes ?? 0,
            swapTotalBytes: memory?.swapTotalBytes ?? 0, swapFreeBytes: memory?.swapFreeBytes ?? 0, disks: disks)
    }
}

/// A process's CPU counter at one instant, kept until the next sample to compute its CPU share.
struct ProcessCounters: Equatable, Sendable {
    /// Tells a reused pid apart from the process sampled before.
    var startTicks: Int
    var cpuSeconds: Double
    var instant: ContinuousClock.Instant

    init(startTicks: Int, cpuSeconds: Double, instant: ContinuousClock.Instant) {
        self.startTicks = startTicks
        self.cpuSeconds = cpuSeconds
        self.instant = instant
    }

    init(_ stat: ProcFiles.ProcessStat, at instant: ContinuousClock.Instant) {
        self.init(
            startTicks: stat.startTicks, cpuSeconds: Double(stat.cpuTicks) / Double(ProcFiles.ticksPerSecond),
            instant: instant)
    }

    /// CPU seconds per second since `previous`, at most the machine's cores; nil when no time
    /// passed or the pid now names another process. (/proc counts CPU in whole ticks, so over a
    /// short interval the quotient can overshoot by a tick: a share above every core is that, not
    /// a reading.)
    func cpuFraction(since previous: ProcessCounters) -> Double? {
        let elapsed = (instant - previous.instant) / .seconds(1)
        guard startTicks == previous.startTicks, elapsed > 0, cpuSeconds >= previous.cpuSeconds else { return nil }
        return min((cpuSeconds - previous.cpuSeconds) / elapsed, Double(ProcessInfo.processInfo.activeProcessorCount))
    }
}

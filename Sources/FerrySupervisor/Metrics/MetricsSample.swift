public import Foundation

/// The machine at one moment: what health checks and the admin page read instead of `/proc`.
public struct SystemSample: Sendable, Equatable {
    public var at: Date
    /// The share of all CPUs busy since the previous sample, in 0...1; nil on the first sample,
    /// which has nothing to compare with.
    public var cpuBusyFraction: Double?
    public var load1: Double
    public var load5: Double
    public var load15: Double
    public var memoryTotalBytes: Int
    /// What can still be allocated without swapping (the kernel's estimate, not just free memory).
    public var memoryAvailableBytes: Int
    public var swapTotalBytes: Int
    public var swapFreeBytes: Int
    public var disks: [DiskSample]

    public init(
        at: Date, cpuBusyFraction: Double?, load1: Double, load5: Double, load15: Double, memoryTotalBytes: Int,
        memoryAvailableBytes: Int, swapTotalBytes: Int, swapFreeBytes: Int, disks: [DiskSample]
    ) {
        self.at = at
        self.cpuBusyFraction = cpuBusyFraction
        self.load1 = load1
        self.load5 = load5
        self.load15 = load15
        self.memoryTotalBytes = memoryTotalBytes
        self.memoryAvailableBytes = memoryAvailableBytes
        self.swapTotalBytes = swapTotalBytes
        self.swapFreeBytes = swapFreeBytes
        self.disks = disks
    }
}

/// One managed folder's file system, or why it could not be measured (a missing folder is itself
/// something health must report).
public struct DiskSample: Sendable, Equatable {
    public var label: String
    public var path: String
    public var usage: Result<DiskUsage, DiskUsageError>

    public init(label: String, path: String, usage: Result<DiskUsage, DiskUsageError>) {
        self.label = label
        self.path = path
        self.usage = usage
    }
}

/// One of the daemon's processes at one moment.
public struct ProcessSample: Sendable, Equatable {
    public var pid: Int32
    /// User plus system CPU time since the process started.
    public var cpuSeconds: Double
    /// CPU seconds per second since this pid's previous sample (above 1 for a process busy on
    /// several cores); nil on its first sample.
    public var cpuFraction: Double?
    public var residentBytes: Int
    public var openFileDescriptors: Int
    public var threads: Int
    public var uptimeSeconds: Double

    public init(
        pid: Int32, cpuSeconds: Double, cpuFraction: Double?, residentBytes: Int, openFileDescriptors: Int,
        threads: Int, uptimeSeconds: Double
    ) {
        self.pid = pid
        self.cpuSeconds = cpuSeconds
        self.cpuFraction = cpuFraction
        self.residentBytes = residentBytes
        self.openFileDescriptors = openFileDescriptors
        self.threads = threads
        self.uptimeSeconds = uptimeSeconds
    }
}

/// Everything one call to ``MetricsSampler/sample(processes:at:)`` saw.
public struct MetricsSnapshot: Sendable, Equatable {
    public var system: SystemSample
    /// By the caller's label ("supervisor", "download-1"); a process that was gone has no entry.
    public var processes: [String: ProcessSample]

    public init(system: SystemSample, processes: [String: ProcessSample]) {
        self.system = system
        self.processes = processes
    }

    public var at: Date { system.at }
}

import Foundation

/// The Linux `/proc` files the metrics sampler reads. Parsers are pure (text in, value out) so tests
/// can feed them fixtures; readers return nil rather than throw, because a process exiting between
/// two reads is normal, not an error.
enum ProcFiles {
    /// Clock ticks per second: the unit of the CPU and start times in `/proc/<pid>/stat`.
    static let ticksPerSecond = max(1, sysconf(Int32(_SC_CLK_TCK)))

    /// The aggregate `cpu` line of `/proc/stat`, in jiffies since boot.
    struct CPUCounters: Equatable, Sendable {
        /// user + nice + system + irq + softirq + steal.
        var busy: Int
        /// busy + idle + iowait.
        var total: Int

        /// The share of CPU time spent busy since `previous`, in 0...1; nil when no time passed.
        func busyFraction(since previous: CPUCounters) -> Double? {
            let total = total - previous.total
            guard total > 0 else { return nil }
            // iowait may go backwards on tickless kernels, so a ratio above 1 (or below 0) can happen.
            return min(1, max(0, Double(busy - previous.busy) / Double(total)))
        }
    }

    /// `/proc/loadavg`: runnable (and uninterruptible) tasks averaged over 1, 5 and 15 minutes.
    struct LoadAverage: Equatable, Sendable {
        var one: Double
        var five: Double
        var fifteen: Double
    }

    /// The `/proc/meminfo` lines health needs, in bytes.
    struct MemoryInfo: Equatable, Sendable {
        var totalBytes: Int
        var availableBytes: Int
        var swapTotalBytes: Int
        var swapFreeBytes: Int
    }

    /// The `/proc/<pid>/stat` fields the sampler needs.
    struct ProcessStat: Equatable, Sendable {
        /// `R`, `S`, `D`, `Z` (exited, not yet reaped)…
        var state: Character
        /// utime + stime, in clock ticks.
        var cpuTicks: Int
        var threads: Int
        /// When the process started, in clock ticks after boot; tells a reused pid apart.
        var startTicks: Int
    }

    /// What one live process looks like right now.
    struct ProcessReading: Equatable, Sendable {
        var stat: ProcessStat
        var residentBytes: Int
        var openFileDescriptors: Int
    }
}

// MARK: - Parsers

extension ProcFiles {
    static func parseCPUCounters(_ text: String) -> CPUCounters? {
        // "cpu " with a space: the aggregate line, not "cpu0", "cpu1"…
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return nil }
        let columns = line.split(separator: " ").dropFirst().prefix(8)
        let fields = columns.compactMap { Int($0) }
        // Kernels before 2.6.11 stop after irq/softirq; missing columns count as zero.
        guard fields.count >= 4, fields.count == columns.count else { return nil }
        let value = { (index: Int) in index < fields.count ? fields[index] : 0 }
        let busy = value(0) + value(1) + value(2) + value(5) + value(6) + value(7)
        return CPUCounters(busy: busy, total: busy + value(3) + value(4))
    }

    static func parseLoadAverage(_ text: String) -> LoadAverage? {
        let fields = text.split(whereSeparator: \.isWhitespace).prefix(3).compactMap { Double($0) }
        guard fields.count == 3 else { return nil }
        return LoadAverage(one: fields[0], five: fields[1], fifteen: fields[2])
    }

    /// Nil without MemTotal or MemAvailable; no Swap lines (a kernel built without swap) means no swap.
    static func parseMemoryInfo(_ text: String) -> MemoryInfo? {
        let fields = kilobyteFields(text)
        guard let total = fields["MemTotal"], let available = fields["MemAvailable"] else { return nil }
        return MemoryInfo(
            totalBytes: total, availableBytes: available,
            swapTotalBytes: fields["SwapTotal"] ?? 0, swapFreeBytes: fields["SwapFree"] ?? 0)
    }

    /// Seconds since boot, the first field of `/proc/uptime`.
    static func parseUptime(_ text: String) -> Double? {
        text.split(whereSeparator: \.isWhitespace).first.flatMap { Double($0) }
    }

    static func parseProcessStat(_ text: String) -> ProcessStat? {
        // The command name (field 2) is in parentheses and may itself hold spaces and ')', so the
        // fields are counted from the last ')': field 3 (state) is then at index 0.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(whereSeparator: \.isWhitespace)
        guard fields.count > 19, let state = fields[0].first,
            let utime = Int(fields[11]), let stime = Int(fields[12]),
            let threads = Int(fields[17]), let start = Int(fields[19])
        else { return nil }
        return ProcessStat(state: state, cpuTicks: utime + stime, threads: threads, startTicks: start)
    }

    /// VmRSS from `/proc/<pid>/status`; nil for a zombie or kernel thread, which have no memory.
    static func parseResidentBytes(_ text: String) -> Int? {
        kilobyteFields(text)["VmRSS"]
    }

    /// The `Key:   123 kB` lines of meminfo and status, in bytes; lines without the kB unit are skipped.
    private static func kilobyteFields(_ text: String) -> [Substring: Int] {
        var fields: [Substring: Int] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].split(whereSeparator: \.isWhitespace)
            guard value.count == 2, value[1] == "kB", let kilobytes = Int(value[0]) else { continue }
            fields[line[..<colon]] = kilobytes * 1024
        }
        return fields
    }
}

// MARK: - Readers

extension ProcFiles {
    static func cpuCounters() -> CPUCounters? { read("/proc/stat").flatMap(parseCPUCounters) }
    static func loadAverage() -> LoadAverage? { read("/proc/loadavg").flatMap(parseLoadAverage) }
    static func memoryInfo() -> MemoryInfo? { read("/proc/meminfo").flatMap(parseMemoryInfo) }
    static func uptime() -> Double? { read("/proc/uptime").flatMap(parseUptime) }

    /// Nil when the process is gone, a zombie, or not ours to inspect.
    static func process(pid: Int32) -> ProcessReading? {
        guard let stat = read("/proc/\(pid)/stat").flatMap(parseProcessStat), stat.state != "Z", stat.state != "X",
            let resident = read("/proc/\(pid)/status").flatMap(parseResidentBytes),
            // For our own pid this counts the descriptor that lists the folder too.
            let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")
        else { return nil }
        return ProcessReading(stat: stat, residentBytes: resident, openFileDescriptors: descriptors.count)
    }

    /// Decodes leniently: a command name is bytes, not necessarily UTF-8.
    private static func read(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}

import Foundation
import Testing

@testable import FerrySupervisor

/// The ring buffer that bounds the sampler's memory.
@Suite("Sample history")
struct SampleHistoryTests {
    @Test("Elements come oldest first, and a full history drops the oldest on append")
    func orderAndEviction() {
        var history = SampleHistory<Int>(capacity: 3)
        #expect(history.elements.isEmpty && history.last == nil && history.count == 0)
        history.append(1)
        history.append(2)
        #expect(history.elements == [1, 2] && history.last == 2 && history.count == 2)
        for value in 3...7 { history.append(value) }
        #expect(history.elements == [5, 6, 7])
        #expect(history.last == 7 && history.count == 3)
    }

    @Test("A capacity of one keeps only the newest")
    func capacityOne() {
        var history = SampleHistory<String>(capacity: 1)
        history.append("a")
        history.append("b")
        #expect(history.elements == ["b"] && history.last == "b")
    }

    @Test("The capacity for an hour is 3600 s divided by the interval, rounded up")
    func capacityForAnHour() {
        #expect(MetricsSampler.historyCapacity(coveringAnHourAt: .seconds(10)) == 360)
        #expect(MetricsSampler.historyCapacity(coveringAnHourAt: .seconds(1)) == 3600)
        #expect(MetricsSampler.historyCapacity(coveringAnHourAt: .seconds(7)) == 515)
        #expect(MetricsSampler.historyCapacity(coveringAnHourAt: .seconds(600)) == 6)
        #expect(MetricsSampler.defaultHistoryCapacity == 360)
    }
}

/// The CPU share of one process between two readings.
@Suite("Process CPU share")
struct ProcessCountersTests {
    let start = ContinuousClock.now

    @Test("The share is CPU seconds per elapsed second and may exceed one core")
    func share() {
        let before = ProcessCounters(startTicks: 100, cpuSeconds: 2, instant: start)
        let after = ProcessCounters(startTicks: 100, cpuSeconds: 5, instant: start + .seconds(2))
        #expect(after.cpuFraction(since: before) == 1.5)
    }

    @Test("A pid reused by another process, or no elapsed time, gives no share")
    func noShare() {
        let before = ProcessCounters(startTicks: 100, cpuSeconds: 2, instant: start)
        let reused = ProcessCounters(startTicks: 900, cpuSeconds: 0.5, instant: start + .seconds(2))
        #expect(reused.cpuFraction(since: before) == nil)
        #expect(before.cpuFraction(since: before) == nil)
    }
}

/// Live samples of this test process, a child that is gone, and real folders. Serialized: the CPU
/// share of this process would include other tests' work.
@Suite("Metrics sampler", .serialized)
struct MetricsSamplerTests {
    let me = getpid()

    @Test("A first sample of this process has real figures and no CPU shares yet")
    func firstSample() async throws {
        let folder = FileManager.default.temporaryDirectory.path
        let sampler = MetricsSampler(folders: [(label: "temp", path: folder)], historyCapacity: 10)
        let snapshot = await sampler.sample(processes: [(label: "supervisor", pid: me)])
        let process = try #require(snapshot.processes["supervisor"])
        #expect(process.pid == me)
        #expect(process.residentBytes > 1_000_000)
        #expect(process.threads >= 1)
        #expect(process.openFileDescriptors >= 3)
        #expect(process.cpuSeconds > 0)
        #expect(process.uptimeSeconds >= 0)
        #expect(process.cpuFraction == nil)
        #expect(snapshot.system.cpuBusyFraction == nil)
        #expect(snapshot.system.memoryTotalBytes > 0)
        #expect(snapshot.system.memoryAvailableBytes <= snapshot.system.memoryTotalBytes)
        let disk = try #require(snapshot.system.disks.first)
        #expect(disk.label == "temp" && disk.path == folder)
        #expect(try disk.usage.get().totalBytes > 0)
        #expect(await sampler.latest() == snapshot)
    }

    @Test("After burning CPU, the second sample has a process share within the cores and a system share in 0...1")
    func secondSample() async throws {
        let sampler = MetricsSampler(folders: [], historyCapacity: 10)
        _ = await sampler.sample(processes: [(label: "supervisor", pid: me)])
        burnCPU(milliseconds: 50)
        let snapshot = await sampler.sample(processes: [(label: "supervisor", pid: me)])
        let share = try #require(snapshot.processes["supervisor"]?.cpuFraction)
        #expect(share > 0)
        #expect(share <= Double(ProcessInfo.processInfo.activeProcessorCount))
        let busy = try #require(snapshot.system.cpuBusyFraction)
        #expect((0...1).contains(busy))
        #expect(await sampler.history().count == 2)
    }

    @Test("A pid no longer asked for is forgotten: asked again, it starts without a share")
    func forgottenPID() async throws {
        let sampler = MetricsSampler(folders: [], historyCapacity: 10)
        _ = await sampler.sample(processes: [(label: "supervisor", pid: me)])
        _ = await sampler.sample(processes: [])
        let snapshot = await sampler.sample(processes: [(label: "supervisor", pid: me)])
        #expect(try #require(snapshot.processes["supervisor"]).cpuFraction == nil)
    }

    @Test("A child that has exited yields no sample, and the others still do")
    func vanishedChild() async throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sleep")
        child.arguments = ["5"]
        try child.run()
        let pid = child.processIdentifier
        let sampler = MetricsSampler(folders: [], historyCapacity: 10)
        let before = await sampler.sample(processes: [(label: "download-1", pid: pid)])
        #expect(before.processes["download-1"] != nil)
        kill(pid, SIGKILL)
        child.waitUntilExit()
        let after = await sampler.sample(processes: [(label: "download-1", pid: pid), (label: "supervisor", pid: me)])
        #expect(after.processes["download-1"] == nil)
        #expect(after.processes["supervisor"] != nil)
    }

    @Test("A missing folder shows as a disk error next to the folders that are fine")
    func missingFolder() async throws {
        let missing = "/nonexistent-ferry-\(UUID())"
        let sampler = MetricsSampler(folders: [(label: "root", path: "/"), (label: "media", path: missing)])
        let disks = await sampler.sample(processes: []).system.disks
        #expect(disks.map(\.label) == ["root", "media"])
        #expect((try? disks[0].usage.get()) != nil)
        #expect(throws: DiskUsageError.self) { try disks[1].usage.get() }
    }

    @Test("The history keeps the newest snapshots up to its capacity, oldest first")
    func historyEviction() async {
        let sampler = MetricsSampler(folders: [], historyCapacity: 2)
        let start = Date(timeIntervalSince1970: 1_000)
        for second in 0..<3 {
            _ = await sampler.sample(processes: [], at: start + Double(second))
        }
        #expect(await sampler.history().map(\.at) == [start + 1, start + 2])
        #expect(await sampler.latest()?.at == start + 2)
    }

    /// Spins this thread until it has used the given CPU time (not wall time, which a busy
    /// machine would stretch).
    private func burnCPU(milliseconds: Int) {
        func threadCPUNanoseconds() -> Int {
            var now = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
            return now.tv_sec * 1_000_000_000 + now.tv_nsec
        }
        let end = threadCPUNanoseconds() + milliseconds * 1_000_000
        var spins = 0
        while threadCPUNanoseconds() < end { spins &+= 1 }
        #expect(spins > 0)
    }
}

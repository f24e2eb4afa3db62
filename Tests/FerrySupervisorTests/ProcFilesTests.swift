import Foundation
import Testing

@testable import FerrySupervisor

/// The `/proc` parsers against fixture text as a real kernel writes it, and garbage.
@Suite("Proc files")
struct ProcFilesTests {
    @Test("The aggregate cpu line sums busy columns and adds idle and iowait for the total, ignoring cpu0…")
    func cpuCounters() throws {
        let text = """
            cpu  380585 35 144938 3473975 5826 0 1089 31558 0 0
            cpu0 173149 12 69665 1759492 789 0 150 15506 0 0
            intr 1234 0 0
            """
        let counters = try #require(ProcFiles.parseCPUCounters(text))
        #expect(counters.busy == 380585 + 35 + 144938 + 0 + 1089 + 31558)
        #expect(counters.total == counters.busy + 3473975 + 5826)
    }

    @Test("The busy fraction is the busy share of the jiffies between two readings, kept within 0...1")
    func busyFraction() {
        let before = ProcFiles.CPUCounters(busy: 1000, total: 4000)
        #expect(ProcFiles.CPUCounters(busy: 1050, total: 4200).busyFraction(since: before) == 0.25)
        #expect(ProcFiles.CPUCounters(busy: 1000, total: 4000).busyFraction(since: before) == nil)
        #expect(ProcFiles.CPUCounters(busy: 1300, total: 4200).busyFraction(since: before) == 1)
    }

    @Test("Load average reads the 1, 5 and 15 minute figures")
    func loadAverage() throws {
        let load = try #require(ProcFiles.parseLoadAverage("0.52 0.58 1.59 1/389 12345\n"))
        #expect(load == ProcFiles.LoadAverage(one: 0.52, five: 0.58, fifteen: 1.59))
    }

    @Test("Meminfo values are converted from kB to bytes")
    func memoryInfo() throws {
        let text = """
            MemTotal:       16314280 kB
            MemFree:          812344 kB
            MemAvailable:    9120000 kB
            SwapTotal:       2097148 kB
            SwapFree:        2000000 kB
            HugePages_Total:       0
            """
        let memory = try #require(ProcFiles.parseMemoryInfo(text))
        #expect(memory.totalBytes == 16_314_280 * 1024)
        #expect(memory.availableBytes == 9_120_000 * 1024)
        #expect(memory.swapTotalBytes == 2_097_148 * 1024)
        #expect(memory.swapFreeBytes == 2_000_000 * 1024)
    }

    @Test("A meminfo without swap lines (a kernel built without swap) reports no swap")
    func memoryInfoWithoutSwap() throws {
        let text = "MemTotal:       1024 kB\nMemFree:         512 kB\nMemAvailable:    768 kB\n"
        let memory = try #require(ProcFiles.parseMemoryInfo(text))
        let expected = ProcFiles.MemoryInfo(
            totalBytes: 1_048_576, availableBytes: 786_432, swapTotalBytes: 0, swapFreeBytes: 0)
        #expect(memory == expected)
    }

    @Test("Uptime is the first field of /proc/uptime")
    func uptime() {
        #expect(ProcFiles.parseUptime("350735.47 234388.90\n") == 350735.47)
    }

    @Test("A process stat is read after the last ')', whatever the command name holds")
    func processStatWithAwkwardName() throws {
        let text =
            "4242 (my (odd) name) x) S 1 4242 4242 0 -1 4194560 1500 0 3 0 250 75 0 0 20 0 7 0 2012928 "
            + "3133440 384 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
        let stat = try #require(ProcFiles.parseProcessStat(text))
        #expect(stat == ProcFiles.ProcessStat(state: "S", cpuTicks: 325, threads: 7, startTicks: 2_012_928))
        #expect(ProcFiles.parseProcessStat("42 (x) S 1 42 42") == nil, "a truncated line is refused")
    }

    @Test("VmRSS comes from /proc/<pid>/status in bytes; a zombie's status has none")
    func residentBytes() {
        let status = "Name:\tferry\nState:\tS (sleeping)\nVmPeak:\t  20000 kB\nVmRSS:\t    5120 kB\nThreads:\t4\n"
        #expect(ProcFiles.parseResidentBytes(status) == 5120 * 1024)
        #expect(ProcFiles.parseResidentBytes("Name:\tferry\nState:\tZ (zombie)\nThreads:\t1\n") == nil)
    }

    @Test(
        "Garbage gives nil from every parser, never a crash",
        arguments: ["", "garbage", "cpu  a b c d", "(x) S 2 3", "))))", "MemTotal: lots kB", "\u{FFFD}\u{FFFD}"])
    func garbage(text: String) {
        #expect(ProcFiles.parseCPUCounters(text) == nil)
        #expect(ProcFiles.parseLoadAverage(text) == nil)
        #expect(ProcFiles.parseMemoryInfo(text) == nil)
        #expect(ProcFiles.parseUptime(text) == nil)
        #expect(ProcFiles.parseProcessStat(text) == nil)
        #expect(ProcFiles.parseResidentBytes(text) == nil)
    }

    @Test("The readers find this machine's figures")
    func liveReaders() throws {
        #expect(try #require(ProcFiles.uptime()) > 0)
        #expect(try #require(ProcFiles.cpuCounters()).total > 0)
        #expect(try #require(ProcFiles.loadAverage()).one >= 0)
        let memory = try #require(ProcFiles.memoryInfo())
        #expect(memory.availableBytes <= memory.totalBytes)
    }
}

/// statvfs of a folder, present or not.
@Suite("Disk usage")
struct DiskUsageTests {
    @Test("A temporary folder's file system reports sizes with available ≤ free ≤ total")
    func temporaryFolder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-disk-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let usage = try DiskUsage.measure(folder: folder.path)
        #expect(usage.totalBytes > 0)
        #expect(usage.availableBytes <= usage.freeBytes)
        #expect(usage.freeBytes <= usage.totalBytes)
        #expect(usage.freeInodes <= usage.totalInodes)
    }

    @Test("A missing folder is a typed error naming the folder, not a crash")
    func missingFolder() {
        let path = "/nonexistent-ferry-\(UUID())/media"
        #expect {
            try DiskUsage.measure(folder: path)
        } throws: { error in
            let error = error as? DiskUsageError
            return error?.code == .missingFolder && error?.path == path
        }
    }
}

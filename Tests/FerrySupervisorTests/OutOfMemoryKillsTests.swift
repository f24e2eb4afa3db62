import Foundation
import Testing

@testable import FerrySupervisor

/// Telling an OOM kill from another SIGKILL: the cgroup membership as the kernel writes it, the
/// ledger that matches each counted kill to one exit, and a real process OOM-killed in a real
/// memory cgroup (where this machine lets us make one).
@Suite("Out-of-memory kills")
struct OutOfMemoryKillsTests {
    @Test("v1's memory line names memory.oom_control; v2's unified line memory.events.local, else memory.events")
    func membership() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-oom-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: "\(root)/memory/svc/w1", withIntermediateDirectories: true)
        try "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n".write(
            toFile: "\(root)/memory/svc/w1/memory.oom_control", atomically: true, encoding: .utf8)
        let v1 = "9:name=systemd:/\n4:memory:/svc/w1\n1:cpu,cpuacct:/\n0::/\n"
        let found = try #require(MemoryCgroup.from(membership: v1, root: root))
        #expect(found.counterFile == "\(root)/memory/svc/w1/memory.oom_control")
        #expect(found.killCount() == 3)

        try FileManager.default.createDirectory(atPath: "\(root)/system.slice/ferry", withIntermediateDirectories: true)
        try "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\n".write(
            toFile: "\(root)/system.slice/ferry/memory.events", atomically: true, encoding: .utf8)
        let v2 = "0::/system.slice/ferry\n"
        #expect(
            MemoryCgroup.from(membership: v2, root: root)?.counterFile == "\(root)/system.slice/ferry/memory.events")
        try "oom_kill 1\n".write(
            toFile: "\(root)/system.slice/ferry/memory.events.local", atomically: true, encoding: .utf8)
        #expect(MemoryCgroup.from(membership: v2, root: root)?.killCount() == 1)

        // A v1 memory line whose folder has no counter falls back to the unified line, and no
        // readable counter at all is nil (the fleet then watches /proc/vmstat).
        #expect(MemoryCgroup.from(membership: "4:memory:/elsewhere\n0::/system.slice/ferry\n", root: root) != nil)
        #expect(MemoryCgroup.from(membership: "4:memory:/elsewhere\n0::/nothing\n", root: root) == nil)
        #expect(MemoryCgroup.machine.killCount() != nil)
    }

    @Test("The first look is the baseline; each kill counted above it explains one SIGKILL, once")
    func ledger() {
        let group = MemoryCgroup(counterFile: "/sys/fs/cgroup/system.slice/ferry/memory.events.local")
        var kills = OutOfMemoryKills()
        kills.watch(group, count: 5)
        kills.watch(group, count: 6)  // already followed: the baseline stays 5
        #expect(kills.explainKill(in: group, count: 5) == false)
        // Two workers of one group OOM-killed together, then one SIGKILLed by hand.
        #expect(kills.explainKill(in: group, count: 7) == true)
        #expect(kills.explainKill(in: group, count: 7) == true)
        #expect(kills.explainKill(in: group, count: 7) == false)
        // A group never seen before has no baseline: its count cannot tell.
        let unseen = MemoryCgroup(counterFile: "/sys/fs/cgroup/memory/other/memory.oom_control")
        #expect(kills.explainKill(in: unseen, count: 1) == false)
        #expect(kills.explainKill(in: unseen, count: 2) == true)
        #expect(kills.explainKill(in: group, count: nil) == false)
    }

    @Test(
        "A process moved into a small memory cgroup is OOM-killed there, and the ledger says so",
        .enabled(if: writableMemoryCgroup() != nil, "needs root and a memory cgroup it may create groups in"))
    func realKill() throws {
        let parent = try #require(Self.writableMemoryCgroup())
        let group = "\(parent)/ferry-oom-test-\(getpid())"
        try FileManager.default.createDirectory(atPath: group, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: group) }
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        // Waits for its move, then grows by 8 MiB a step until the kernel ends it.
        python.arguments = [
            "-c", "import time\ntime.sleep(1)\nheld = []\nwhile True:\n    held.append(b'x' * (8 << 20))",
        ]
        try python.run()
        try "\(python.processIdentifier)".write(toFile: "\(group)/cgroup.procs", atomically: false, encoding: .utf8)
        let cgroup = try #require(MemoryCgroup.of(pid: python.processIdentifier))
        #expect(cgroup.counterFile.hasPrefix(group))
        var kills = OutOfMemoryKills()
        kills.watch(cgroup, count: cgroup.killCount())
        try "\(32 << 20)".write(toFile: "\(group)/memory.limit_in_bytes", atomically: false, encoding: .utf8)
        python.waitUntilExit()
        #expect(python.terminationReason == .uncaughtSignal && python.terminationStatus == SIGKILL)
        #expect(kills.explainKill(in: cgroup, count: cgroup.killCount()) == true)
        #expect(kills.explainKill(in: cgroup, count: cgroup.killCount()) == false)
    }

    /// Our own memory cgroup's folder, when we may create groups in it with a memory limit
    /// (cgroup v1; on v2 a group holding processes cannot give its children the controller).
    static func writableMemoryCgroup() -> String? {
        guard getuid() == 0, let own = MemoryCgroup.of(pid: getpid()),
            own.counterFile.hasSuffix("/memory.oom_control")
        else { return nil }
        let folder = (own.counterFile as NSString).deletingLastPathComponent
        return access(folder, W_OK) == 0 ? folder : nil
    }
}

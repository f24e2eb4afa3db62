import Foundation

/// Tells a SIGKILL from the kernel's out-of-memory killer apart from any other: cgroup v2 counts
/// OOM kills in `memory.events`, so a count that grew since the last look means the kernel did it.
enum OutOfMemoryKills {
    nonisolated(unsafe) private static var lastSeen: Int = current() ?? 0

    /// Whether the OOM-kill count of our cgroup grew since the last call.
    static func increased() -> Bool {
        guard let now = current() else { return false }
        defer { lastSeen = now }
        return now > lastSeen
    }

    /// The `oom_kill` count of this process's cgroup, when cgroup v2 exposes it.
    static func current() -> Int? {
        guard let membership = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8),
            let line = membership.split(separator: "\n").first(where: { $0.hasPrefix("0::") })
        else { return nil }
        let path = "/sys/fs/cgroup" + line.dropFirst(3) + "/memory.events"
        guard let events = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for entry in events.split(separator: "\n") where entry.hasPrefix("oom_kill ") {
            return Int(entry.split(separator: " ")[1])
        }
        return nil
    }
}

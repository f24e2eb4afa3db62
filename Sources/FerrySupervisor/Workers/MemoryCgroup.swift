import Foundation

/// The memory cgroup a process is in, read from `/proc/<pid>/cgroup`, and the kernel's count of
/// the processes its out-of-memory killer ended there.
///
/// cgroup v1 counts them in `memory.oom_control` (`oom_kill N`, that group only); cgroup v2 in
/// `memory.events.local` (that group only; kernel 5.2 and later), else `memory.events` (the
/// group and the groups below it). The kernel counts a kill before it sends the SIGKILL, so a
/// count read after the victim's exit already includes it.
struct MemoryCgroup: Hashable, Sendable {
    /// The file holding the `oom_kill` count.
    let counterFile: String

    /// Where the hierarchies are mounted: `/sys/fs/cgroup/memory` for v1's memory controller,
    /// `/sys/fs/cgroup` for v2 (systemd's layout; a hybrid machine has v1's memory controller).
    static let hierarchyRoot = "/sys/fs/cgroup"

    /// The memory cgroup of `pid`, when a counter for it can be read; nil for a process that is
    /// gone. An exited process (a zombie) shows the root cgroup, so the process must still be
    /// running after the read for the read to count.
    static func of(pid: Int32, root: String = hierarchyRoot) -> MemoryCgroup? {
        guard let membership = try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8),
            let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let state = stat.split(separator: ")").last?.dropFirst().first, state != "Z", state != "X"
        else { return nil }
        return from(membership: membership, root: root)
    }

    /// Reads a `/proc/<pid>/cgroup` text: v1's `N:…memory…:/path` wins over v2's `0::/path`.
    static func from(membership: String, root: String = hierarchyRoot) -> MemoryCgroup? {
        var unified: Substring?
        for line in membership.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            if fields[1].split(separator: ",").contains("memory") {
                let candidate = MemoryCgroup(counterFile: "\(root)/memory\(fields[2])/memory.oom_control")
                if candidate.killCount() != nil { return candidate }
            } else if fields[0] == "0" && fields[1].isEmpty {
                unified = fields[2]
            }
        }
        guard let unified else { return nil }
        let folder = "\(root)\(unified == "/" ? "" : String(unified))"
        for file in ["memory.events.local", "memory.events"] {
            let candidate = MemoryCgroup(counterFile: "\(folder)/\(file)")
            if candidate.killCount() != nil { return candidate }
        }
        return nil
    }

    /// The whole machine's count (`/proc/vmstat`), when no memory cgroup can be read.
    static let machine = MemoryCgroup(counterFile: "/proc/vmstat")

    /// The current `oom_kill` count, or nil when the file cannot be read or has none.
    func killCount() -> Int? {
        guard let text = try? String(contentsOfFile: counterFile, encoding: .utf8) else { return nil }
        for entry in text.split(separator: "\n") where entry.hasPrefix("oom_kill ") {
            return Int(entry.dropFirst("oom_kill ".count))
        }
        return nil
    }
}

/// Tells a worker's SIGKILL from the kernel's out-of-memory killer apart from any other.
///
/// The kernel counts each OOM kill in the victim's memory cgroup before it sends the SIGKILL
/// (``MemoryCgroup``). The fleet notes every worker's cgroup at its start and on every metrics
/// sample (a process moved into another group is seen there), and the ledger remembers, per
/// counter, how many kills it has already explained: the first look at a counter is its
/// baseline. A SIGKILLed worker was OOM-killed when its cgroup's counter is above what the
/// ledger explained; that kill is then explained, so one kill names one exit even when several
/// workers share the group. What it cannot see: a worker moved into another group and killed
/// there before the next sample (counted as a plain `signal`), and an OOM-killed process of the
/// same group that is not a worker (a worker's aria2c or rclone) followed by a SIGKILL from
/// elsewhere before any other exit there (counted as `oom`).
struct OutOfMemoryKills {
    /// Per counter file, the kill count already explained.
    private var explained: [String: Int] = [:]

    /// Starts following `cgroup`'s counter at `count`, unless it is followed already.
    mutating func watch(_ cgroup: MemoryCgroup, count: Int?) {
        guard let count, explained[cgroup.counterFile] == nil else { return }
        explained[cgroup.counterFile] = count
    }

    /// Whether a SIGKILLed process in `cgroup`, whose counter reads `count` now, was OOM-killed;
    /// a yes explains one kill.
    mutating func explainKill(in cgroup: MemoryCgroup, count: Int?) -> Bool {
        guard let count, let before = explained[cgroup.counterFile] else {
            if let count { explained[cgroup.counterFile] = count }
            return false
        }
        guard count > before else {
            explained[cgroup.counterFile] = count
            return false
        }
        explained[cgroup.counterFile] = before + 1
        return true
    }
}

import CProcessControl
import Foundation

/// Ties a worker's life to its supervisor's.
enum ParentWatch {
    /// Asks the kernel to kill this process when its parent dies, then checks that the parent is
    /// still the expected one: it may have died between spawning us and this call.
    ///
    /// - Important: the kernel sends the signal when the parent *thread* that spawned us exits,
    ///   so the supervisor spawns workers from a thread of NIO's blocking pool, which lives as long
    ///   as it does (`WorkerProcess.spawn`).
    static func bind(to parent: Int32) -> Bool {
        _ = ferry_set_parent_death_signal(SIGKILL)
        return getppid() == parent
    }

    /// Whether the supervisor that started us is still our parent.
    static func isParentAlive(_ parent: Int32) -> Bool {
        getppid() == parent
    }
}

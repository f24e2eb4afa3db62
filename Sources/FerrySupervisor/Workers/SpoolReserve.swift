import Foundation

/// Holds downloads back while the spool folder has less free space than its reserve, so a full
/// disk makes new work wait (with the reason shown in health) instead of failing attempts.
struct SpoolReserve {
    let folder: String
    /// Bytes to keep free; 0 turns the check off.
    var reserve: Int64
    private var checkedAt: ContinuousClock.Instant?
    private var held: String?

    init(folder: String, reserve: Int64) {
        self.folder = folder
        self.reserve = reserve
    }

    /// Why downloads wait, or nil when they may start. Looks at the disk at most once a second.
    mutating func heldReason(now: ContinuousClock.Instant = .now) -> String? {
        guard reserve > 0 else { return nil }
        if let checkedAt, now - checkedAt < .seconds(1) { return held }
        checkedAt = now
        var stats = statvfs()
        // The folder may not exist before the first download; its parent holds the same disk.
        let path =
            FileManager.default.fileExists(atPath: folder) ? folder : (folder as NSString).deletingLastPathComponent
        guard statvfs(path, &stats) == 0 else {
            held = nil
            return nil
        }
        let free = Int64(stats.f_bavail) * Int64(stats.f_frsize)
        held =
            free < reserve
            ? "downloads wait: the spool folder \(folder) has \(free >> 20) MiB free, below its reserve of \(reserve >> 20) MiB (downloads.spool_reserve); free space and they start"
            : nil
        return held
    }
}

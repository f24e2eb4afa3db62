import FerryCore

/// Flushes a folder that many jobs' new folders share (`downloads/`), once for every job whose
/// folder was made before that flush began. A job's folder is new, so the shared folder must be
/// flushed before its file is reported; files published at about the same time then share one
/// fsync of it instead of paying one each.
actor SharedFolderFlush {
    static let shared = SharedFolderFlush()

    /// Flushes finished, per folder.
    private var finished: [String: UInt64] = [:]

    /// How many flushes of `folder` have ended.
    func flushes(of folder: String) -> UInt64 {
        finished[folder, default: 0]
    }

    /// Taken after a change to `folder` (a new entry in it): the first flush that begins after it
    /// (number `ticket`) makes the change durable.
    func ticket(_ folder: String) -> UInt64 {
        finished[folder, default: 0] + 1
    }

    /// Makes the changes made before `ticket` was taken durable: at once when a flush that began
    /// after them has ended, else by flushing now. The fsync runs inside the actor, so no flush is
    /// under way while another caller takes a ticket.
    func flush(_ folder: String, covering ticket: UInt64) throws(JobFailure) {
        let done = finished[folder, default: 0]
        guard done < ticket else { return }
        try FolderSync.syncOne(folder)
        finished[folder] = done + 1
    }
}

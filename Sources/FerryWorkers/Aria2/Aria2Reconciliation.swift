import FerryCore
import Foundation

/// What one round of reconciliation does for one job, decided from one listing of aria2's tasks:
/// no I/O, so every case (aria2 lost the task, a magnet turned into its torrent, a torrent came
/// back from aria2's session under a GID it chose, a limit crossed, an ending) is tested on its own.
enum Aria2Reconciliation {
    /// What the engine learns about a job's task between rounds.
    struct Link: Hashable {
        /// The torrent a magnet's metadata download (or a `.torrent` file) turned into; aria2
        /// chose its GID.
        var followed: String?
        /// The torrent's info hash: the magnet's from the start, a `.torrent` file's once seen.
        var infoHash: String?
    }

    enum Action: Hashable {
        /// aria2 does not have the job's task (any more): add it again, after dropping the stopped
        /// result aria2 still lists under its GID, if any.
        case add(dropStaleResult: Bool)
        /// The job's files are whole (aria2 may go on seeding them): hand the task back.
        case finish(Aria2Task)
        /// The attempt fails (aria2's error, or a limit the task crossed).
        case fail(JobFailure)
        /// Still under way: report how far `task` has got.
        case progress(Aria2Task)
    }

    static func decide(_ order: Aria2Order, link: inout Link, tasks: [Aria2Task]) -> Action {
        let byGID = Dictionary(tasks.map { ($0.gid, $0) }, uniquingKeysWith: { first, _ in first })
        var current = latest(from: link.followed ?? order.gid, in: byGID)
        if current == nil || current?.isDeadEnd == true, link.followed != nil {
            current = latest(from: order.gid, in: byGID)
        }
        if current == nil || current?.isDeadEnd == true || current?.isDuplicateTorrent == true,
            let hash = link.infoHash,
            let torrent = tasks.first(where: {
                $0.infoHash == hash && !$0.isMetadata && !$0.isDeadEnd && order.isFolder(of: $0)
            })
        {
            // A torrent re-added after aria2 restarted (from its session) has a GID aria2 chose:
            // it is found by its info hash — in this job's folder (another job may fetch the same
            // torrent; aria2 then refuses this one's add as a duplicate until that one is done).
            current = torrent
        }
        link.followed = current.flatMap { $0.gid == order.gid ? nil : $0.gid }
        link.infoHash = link.infoHash ?? current?.infoHash
        guard let task = current, !task.isDeadEnd else { return .add(dropStaleResult: current != nil) }
        if let failure = limitProblem(task, order: order) { return .fail(failure) }
        switch task.status {
        case "complete" where !task.isMetadata: return .finish(task)
        // Whole, and seeding as configured: the job is done; aria2 seeds on from the work folder.
        case "active" where order.seeds && task.isSeeding: return .finish(task)
        case "error": return .fail(Aria2Failure.of(task))
        default: return .progress(task)
        }
    }

    /// The newest task of a chain: a magnet's metadata download, followed by its torrent.
    static func latest(from gid: String, in tasks: [String: Aria2Task]) -> Aria2Task? {
        var task = tasks[gid]
        var seen: Set<String> = []
        while let next = task?.followedBy?.first, let followed = tasks[next], seen.insert(next).inserted {
            task = followed
        }
        return task
    }

    /// A total over `downloads.max_size`, or a file that would land outside the job's folder.
    static func limitProblem(_ task: Aria2Task, order: Aria2Order) -> JobFailure? {
        if order.maxSize > 0, task.total > order.maxSize {
            return .permanent(
                "too_large",
                "the download is \(task.total) bytes, over the limit of \(order.maxSize) (downloads.max_size)")
        }
        let folder = URL(fileURLWithPath: order.folder).standardizedFileURL.path + "/"
        for file in task.files ?? [] where !file.path.isEmpty && !file.path.hasPrefix("[METADATA]") {
            let path = URL(fileURLWithPath: file.path).standardizedFileURL.path
            if !path.hasPrefix(folder) {
                return .permanent(
                    "unsafe_path", "the torrent names a file outside its folder (\(file.path)); it is refused")
            }
        }
        return nil
    }
}

import FerryCore
import Foundation

/// What one download job asks of aria2: the task's identity (chosen by Ferry), its source and
/// where its files go.
struct Aria2Order: Sendable, Hashable {
    var jobID: JobID
    /// The task's GID: 16 hexadecimal digits derived from the job's id, so the job's record names
    /// its task before aria2 ever sees it, and every attempt (and every re-add after aria2 lost
    /// it) reuses the same one.
    var gid: String
    var uri: String
    /// aria2's folder for this job; kept across attempts, so aria2 resumes from what it holds.
    var folder: String
    /// The file name for a single-file source (ftp, sftp); torrents name their own files.
    var fileName: String?
    /// A magnet's or torrent's info hash (lower-case hex): its task is found by it after a restart.
    var infoHash: String?
    /// The largest total size accepted (0: no limit).
    var maxSize: Int64
    /// A `.torrent` file sent through the API: added with `addTorrent` (its bytes), not `addUri`.
    var torrent: [UInt8]?
    /// Whether aria2 seeds a finished torrent (`aria2.seed_ratio` or `aria2.seed_time` set): the
    /// job is then done once the torrent is whole and seeding, not when aria2 calls it complete.
    var seeds = false

    init(
        jobID: JobID, uri: String, folder: String, fileName: String?, infoHash: String?, maxSize: Int64,
        torrent: [UInt8]? = nil
    ) {
        self.torrent = torrent
        self.jobID = jobID
        gid = Self.gid(for: jobID)
        self.uri = uri
        self.folder = folder
        self.fileName = fileName
        self.infoHash = infoHash
        self.maxSize = maxSize
    }

    /// The GID of a job's task. aria2 refuses the GID 0, which no job id maps to.
    static func gid(for jobID: JobID) -> String {
        String(format: "%016llx", UInt64(bitPattern: jobID.rawValue))
    }

    /// aria2's options for the task.
    var options: [String: String] {
        var options = ["gid": gid, "dir": folder]
        if let fileName { options["out"] = fileName }
        return options
    }

    /// Whether `task` is this order's: by GID, as the torrent its metadata download turned into,
    /// or by info hash (`infoHash`: the magnet's, or the `.torrent` file's once seen; a torrent
    /// re-added after a restart has a GID aria2 chose).
    func owns(_ task: Aria2Task, followed: String?, infoHash: String?) -> Bool {
        task.gid == gid || task.gid == followed || task.following == gid || task.belongsTo == gid
            || (infoHash != nil && task.infoHash == infoHash && isFolder(of: task))
    }

    /// Whether `task` writes into this job's folder (aria2 reports the folder with every task).
    func isFolder(of task: Aria2Task) -> Bool {
        guard let dir = task.dir else { return true }
        return URL(fileURLWithPath: dir).standardizedFileURL.path
            == URL(fileURLWithPath: folder).standardizedFileURL.path
    }
}

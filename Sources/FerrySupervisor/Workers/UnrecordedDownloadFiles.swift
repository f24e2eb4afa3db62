import FerryCore
import Foundation
import Logging

/// The files a download's attempts left in its folder (`downloads/<id>/`) once the download has
/// ended cancelled or failed: no record points at them, so nobody would ever look for them.
///
/// An attempt renames its file into place and only then reports; a cancel, a permanent failure,
/// or a supervisor that died in between (the job requeued, its later attempts failing) leaves the
/// published file behind. The folder belongs to the job alone, so everything in it but the
/// recorded result can go — unless an attempt holds the folder's lock (the workers' `flock`),
/// which means a retry is at work there: then it is left to that attempt.
struct UnrecordedDownloadFiles {
    let downloadsFolder: String
    let logger: Logger

    /// Removes what `job` (a download in a final state other than success) left in its folder.
    func remove(for job: Job) {
        guard job.kind == .download, job.state == .cancelled || job.state == .failed else { return }
        let folder = "\(downloadsFolder)/\(job.id)"
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else { return }
        var removed: [String] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
            let path = "\(folder)/\(name)"
            guard path != job.result?.location, ResultRemoval.remove(path) == 0 else { continue }
            removed.append(name)
        }
        rmdir(folder)
        guard !removed.isEmpty else { return }
        logger.notice(
            "removed what a download's attempts left behind once it ended",
            metadata: ["job_id": "\(job.id)", "state": "\(job.state)", "files": "\(removed.joined(separator: ", "))"])
    }
}

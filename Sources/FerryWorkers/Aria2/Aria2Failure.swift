import FerryCore

/// aria2's error codes (its exit statuses, also `errorCode` of a failed task) as job failures.
enum Aria2Failure {
    static func of(_ task: Aria2Task) -> JobFailure {
        let code = Int(task.errorCode ?? "") ?? 1
        let message = task.errorMessage.flatMap { $0.isEmpty ? nil : $0 } ?? "aria2 error \(code)"
        switch code {
        case 3, 4: return .permanent("not_found", "the source does not have the file: \(message)")
        case 8:
            return .retryable(
                "resume_refused", "the server cannot resume the partial file (\(message)); the next attempt starts over"
            )
        case 9: return .retryable("disk_full", "no space left for the download: free space and the job resumes")
        case 20: return .permanent("bad_metalink", "the metalink cannot be read: \(message)")
        case 23: return .permanent("too_many_redirects", message)
        case 24: return .permanent("auth_failed", "the server refused the credentials in the URL: \(message)")
        case 25, 26:
            return .permanent("bad_torrent", "the torrent cannot be read (\(message)): check the .torrent file")
        case 27: return .permanent("bad_magnet", "the magnet link is malformed (\(message))")
        case 28: return .permanent("aria2_refused", message)
        case 32: return .retryable("checksum_mismatch", message)
        default: return .retryable("aria2_error_\(code)", message)
        }
    }
}

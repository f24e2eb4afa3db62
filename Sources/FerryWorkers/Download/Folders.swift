import FerryCore
import Foundation

/// Creating the folders a job writes into, on the hot path of every job.
enum Folders {
    /// Makes sure `path` is a folder, creating it (and its parents when they are missing). One
    /// `mkdir(2)` in the usual cases — the folder already exists, or only it is missing — where
    /// Foundation's `createDirectory(withIntermediateDirectories:)` looks at every component of
    /// the path first (a measurable share of a small download's CPU time).
    static func ensure(_ path: String) throws {
        if mkdir(path, 0o755) == 0 { return }
        if errno == EEXIST {
            var info = stat()
            if stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR { return }
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// `ensure`, for a job's folders: a folder that cannot be made fails the attempt retryably.
    static func ensureForJob(_ path: String) throws(JobFailure) {
        do {
            try ensure(path)
        } catch {
            throw .retryable("file_error", "cannot create \(path): \(error.localizedDescription)")
        }
    }
}

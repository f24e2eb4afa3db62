import Foundation

/// A download's result is a file, or a folder (a torrent of several files): removing it removes
/// either.
enum ResultRemoval {
    /// Removes `path` (a file, or a folder with everything in it); 0 when it is gone, else the errno.
    static func remove(_ path: String) -> Int32 {
        if unlink(path) == 0 || errno == ENOENT { return 0 }
        let failure = errno
        guard failure == EISDIR else { return failure }
        do {
            try FileManager.default.removeItem(atPath: path)
            return 0
        } catch {
            return EIO
        }
    }
}

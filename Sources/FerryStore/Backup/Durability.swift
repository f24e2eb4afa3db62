import FerryCore
import Foundation

/// fsync(2) for files and folders, with errors a person can act on: a rename is durable only once
/// the file's data and then its folder are on disk.
enum Durability {
    static func fsync(file path: String) throws(StoreError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw StoreError(.unavailable, "cannot open \(path) to flush it: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        guard Foundation.fsync(descriptor) == 0 else {
            throw StoreError(
                .unavailable, "cannot flush \(path) to disk: \(String(cString: strerror(errno))); check the disk")
        }
    }
}

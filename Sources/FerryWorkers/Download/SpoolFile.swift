import FerryCore
import Foundation

/// A file being written under a temporary name, published by an fsynced rename only when whole.
final class SpoolFile {
    let path: String
    private let descriptor: Int32
    private var isOpen = true

    /// Creates (or truncates) the temporary file.
    init(path: String) throws(JobFailure) {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else { throw Self.failure("open", path) }
    }

    /// Appends bytes, retrying short writes.
    func append(_ bytes: UnsafeRawBufferPointer) throws(JobFailure) {
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw Self.failure("write", path)
            }
            offset += written
        }
    }

    /// Flushes the content to disk, closes the file and renames it to `destination`, then flushes
    /// the folder so the rename itself survives a crash.
    func publish(as destination: String) throws(JobFailure) {
        guard fsync(descriptor) == 0 else { throw Self.failure("fsync", path) }
        close(descriptor)
        isOpen = false
        guard rename(path, destination) == 0 else { throw Self.failure("rename", destination) }
        let folder = open((destination as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
    }

    /// Closes and deletes the temporary file.
    func discardFile() {
        if isOpen { close(descriptor) }
        isOpen = false
        unlink(path)
    }

    deinit {
        if isOpen { close(descriptor) }
    }

    /// A file-system error: a full disk or a quota is worth retrying later, the rest too (the
    /// operator can fix permissions), each with what to do.
    static func failure(_ operation: String, _ path: String) -> JobFailure {
        let code = errno
        let reason = String(cString: strerror(code))
        if code == ENOSPC || code == EDQUOT {
            return .retryable("disk_full", "no space left to \(operation) \(path): free space and the job resumes")
        }
        return .retryable("file_error", "cannot \(operation) \(path): \(reason)")
    }
}

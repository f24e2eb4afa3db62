import FerryCore
import Foundation

/// An exclusive lock on a job's folder (flock), held by the attempt that works on the job's files.
/// A successor attempt starts only once its predecessor has let go (ended, or died: the kernel
/// drops the lock with the process), so an attempt that was given up on can never write or
/// publish over the one that replaced it.
final class JobFolderLock {
    private let descriptor: Int32
    private let folder: String
    /// The folder holding this one, and the flush of it that covers this folder's entry.
    private let parent: String
    private let parentTicket: UInt64

    private init(descriptor: Int32, folder: String, parent: String, parentTicket: UInt64) {
        self.descriptor = descriptor
        self.folder = folder
        self.parent = parent
        self.parentTicket = parentTicket
    }

    /// Takes the lock on `folder`, which the caller has just made sure exists, waiting up to
    /// `patience` for a previous attempt to let go.
    static func acquire(_ folder: String, patience: Duration = .seconds(10)) async throws(JobFailure) -> JobFolderLock {
        let parent = (folder as NSString).deletingLastPathComponent
        let parentTicket = await SharedFolderFlush.shared.ticket(parent)
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw .retryable("file_error", "cannot open \(folder): \(String(cString: strerror(errno)))")
        }
        let deadline = ContinuousClock.now + patience
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR, ContinuousClock.now < deadline else {
                close(descriptor)
                throw .retryable(
                    "previous_attempt_active",
                    "an earlier attempt of this job still holds its files (\(folder)); it is retried once that attempt has ended"
                )
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return JobFolderLock(descriptor: descriptor, folder: folder, parent: parent, parentTicket: parentTicket)
    }

    /// Makes what was renamed into the folder durable, and the folder's own entry in its parent
    /// (the folder may be new), sharing the parent's flush with the other jobs publishing now.
    func flushFolder() async throws(JobFailure) {
        try FolderSync.flush(descriptor, of: folder)
        guard !parent.isEmpty, parent != folder else { return }
        try await SharedFolderFlush.shared.flush(parent, covering: parentTicket)
    }

    deinit {
        // Closing the descriptor releases the lock.
        close(descriptor)
    }
}

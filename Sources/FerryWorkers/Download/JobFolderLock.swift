import FerryCore
import Foundation

/// An exclusive lock on a job's folder (flock), held by the attempt that works on the job's files.
/// A successor attempt starts only once its predecessor has let go (ended, or died: the kernel
/// drops the lock with the process), so an attempt that was given up on can never write or
/// publish over the one that replaced it.
final class JobFolderLock {
    private let descriptor: Int32

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// Takes the lock, waiting up to `patience` for a previous attempt to let go.
    static func acquire(_ folder: String, patience: Duration = .seconds(10)) async throws(JobFailure) -> JobFolderLock {
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
        return JobFolderLock(descriptor: descriptor)
    }

    deinit {
        // Closing the descriptor releases the lock.
        close(descriptor)
    }
}

public import FerryCore
import Foundation

/// The exclusive lock `ferry serve` holds on its database for as long as it runs (flock(2) on
/// `<database>.lock`, which also names the holder's pid).
///
/// Two supervisors on one SQLite file would each take the other's running jobs for a dead
/// run's and requeue them; and `ferry db restore` must not swap the file under a live daemon.
/// Both take this lock, so the second one is refused with the pid of the first. The kernel drops
/// the lock when the holder dies, SIGKILL included, so a crash never leaves a stale lock behind;
/// the descriptor is close-on-exec, so workers never inherit it.
public final class DatabaseLock: Sendable {
    private let descriptor: Int32
    public let path: String

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    /// Unlocks before closing: a child forked at that moment (a worker or a helper being spawned,
    /// before its exec closes the descriptor) shares the lock, which closing alone would leave held.
    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }

    /// The lock file of the database at `databasePath`.
    public static func lockPath(for databasePath: String) -> String { databasePath + ".lock" }

    /// Takes the lock without waiting.
    /// - Throws: ``StoreError`` `database_busy` when another process holds it (naming its pid and
    ///   `purpose`'s remedy), `database_unavailable` when the lock file cannot be created.
    /// - Parameter subject: what the lock guards, as the refusal names it (default: the database).
    public static func acquire(
        for databasePath: String, purpose: String, subject: String? = nil
    ) throws(StoreError) -> DatabaseLock {
        let path = lockPath(for: databasePath)
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw StoreError(
                .unavailable,
                "cannot create the database's lock file \(path): \(String(cString: strerror(errno))); "
                    + "the folder of the database must be writable")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = readPID(descriptor)
            close(descriptor)
            throw StoreError(
                .busy,
                "\(subject ?? "the database \(databasePath)") is in use by a running `ferry serve`"
                    + (holder.map { " (pid \($0))" } ?? "") + ": \(purpose)")
        }
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = text.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        return DatabaseLock(descriptor: descriptor, path: path)
    }

    /// The pid of the process holding the lock on the database, or nil when nobody does.
    public static func holder(of databasePath: String) -> Int32? {
        let descriptor = open(lockPath(for: databasePath), O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        if flock(descriptor, LOCK_SH | LOCK_NB) == 0 {
            flock(descriptor, LOCK_UN)
            return nil
        }
        return readPID(descriptor) ?? 0
    }

    private static func readPID(_ descriptor: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return Int32(String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

import CProcessControl
import Crypto
import FerryCore
import Foundation

/// A file being written under a temporary name named for its attempt, published by an fsynced
/// rename only when whole. A later attempt of the same job takes over what an earlier one left,
/// so a retry continues instead of starting over.
final class SpoolFile {
    let path: String
    private let descriptor: Int32
    private var isOpen = true
    /// Bytes in the file.
    private(set) var size: Int64
    private var writeback: WritebackPacer

    private init(path: String, descriptor: Int32, size: Int64) {
        self.path = path
        self.descriptor = descriptor
        self.size = size
        writeback = WritebackPacer(from: size)
    }

    /// The temporary file of `attempt` of job `jobID` in `spool`. When `resuming`, the newest
    /// partial file an earlier attempt left is renamed to this attempt's name and kept; every
    /// other partial file of the job is removed.
    static func open(spool: String, jobID: JobID, attempt: Int, resuming: Bool) throws(JobFailure) -> SpoolFile {
        let prefix = "job-\(jobID)-attempt-"
        let path = "\(spool)/\(prefix)\(attempt).part"
        let earlier = earlierParts(in: spool, prefix: prefix, attempt: attempt)
        var keep = resuming ? earlier.first?.1 : nil
        for (_, old) in earlier where old != keep { unlink(old) }
        if let kept = keep, rename(kept, path) != 0 {
            unlink(kept)
            keep = nil
        }
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (keep == nil ? O_TRUNC : 0)
        var descriptor = Foundation.open(path, flags, 0o640)
        if descriptor < 0, errno == ENOENT {
            // The spool is made when first missing, not looked for on every job.
            try Folders.ensureForJob(spool)
            descriptor = Foundation.open(path, flags, 0o640)
        }
        guard descriptor >= 0 else { throw failure("open", path) }
        let end = lseek(descriptor, 0, SEEK_END)
        guard end >= 0 else {
            Glibc.close(descriptor)
            throw failure("seek", path)
        }
        return SpoolFile(path: path, descriptor: descriptor, size: Int64(end))
    }

    /// The SHA-256 state of the bytes already in the file, to continue hashing after them.
    func hashOfContent() throws(JobFailure) -> SHA256 {
        var hasher = SHA256()
        guard size > 0 else { return hasher }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw Self.failure("read", path) }
        defer { try? handle.close() }
        var remaining = size
        while remaining > 0 {
            let chunk: Data
            do {
                chunk = try handle.read(upToCount: Int(min(remaining, 1 << 20))) ?? Data()
            } catch {
                throw .retryable("file_error", "cannot read \(path): \(error.localizedDescription)")
            }
            guard !chunk.isEmpty else { throw .retryable("file_error", "\(path) is shorter than expected") }
            hasher.update(data: chunk)
            remaining -= Int64(chunk.count)
        }
        return hasher
    }

    /// Empties the file, to start the content over.
    func truncate() throws(JobFailure) {
        guard ftruncate(descriptor, 0) == 0, lseek(descriptor, 0, SEEK_SET) == 0 else {
            throw Self.failure("truncate", path)
        }
        size = 0
        writeback = WritebackPacer(from: 0)
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
        size += Int64(bytes.count)
        writeback.wrote(upTo: size, of: descriptor)
    }

    /// The partial files earlier attempts of the job left in the spool, newest first. Attempts are
    /// numbered from 1 and never reused, so a first attempt has none and the spool is not listed
    /// (a measurable share of a small download's work).
    private static func earlierParts(in spool: String, prefix: String, attempt: Int) -> [(Int, String)] {
        guard attempt > 1 else { return [] }
        return ((try? FileManager.default.contentsOfDirectory(atPath: spool)) ?? [])
            .compactMap { name -> (Int, String)? in
                guard name.hasPrefix(prefix), name.hasSuffix(".part"),
                    let number = Int(name.dropFirst(prefix.count).dropLast(5)), number != attempt
                else { return nil }
                return (number, "\(spool)/\(name)")
            }
            .sorted { $0.0 > $1.0 }
    }

    /// Flushes the content to disk, closes the file and renames it to `destination`, then flushes
    /// the folder so the rename itself survives a crash.
    func publish(as destination: String) throws(JobFailure) {
        try flushAndRename(to: destination)
        try FolderSync.sync((destination as NSString).deletingLastPathComponent)
    }

    /// Publishes the file into the job's own folder, which `lock` holds: the folder and the one
    /// holding it are flushed through the lock.
    func publish(as destination: String, into lock: JobFolderLock) async throws(JobFailure) {
        try flushAndRename(to: destination)
        try await lock.flushFolder()
    }

    /// Flushes the content to disk, closes the file and renames it to `destination`.
    private func flushAndRename(to destination: String) throws(JobFailure) {
        guard fsync(descriptor) == 0 else { throw Self.failure("fsync", path) }
        Glibc.close(descriptor)
        isOpen = false
        guard Glibc.rename(path, destination) == 0 else { throw Self.failure("rename", destination) }
    }

    /// Closes and deletes the temporary file.
    func discardFile() {
        keepForLater()
        unlink(path)
    }

    /// Closes the file and keeps it for a later attempt.
    func keepForLater() {
        if isOpen { Glibc.close(descriptor) }
        isOpen = false
    }

    deinit {
        keepForLater()
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

/// Hands a file's pages to the disk in steps as they are written. The kernel would otherwise
/// keep a large file dirty in memory (far below its background threshold on a machine with
/// gigabytes free) and write all of it in the final fsync, after the transfer; started early, the
/// writing overlaps the transfer and the fsync has little left. Only a hint: a file system that
/// cannot do it still gets the fsync.
struct WritebackPacer {
    static let step: Int64 = 8 << 20
    private var start: Int64

    init(from offset: Int64) { start = offset }

    mutating func wrote(upTo size: Int64, of descriptor: Int32) {
        guard size - start >= Self.step else { return }
        _ = ferry_start_writeback(descriptor, start, size - start)
        start = size
    }
}

/// Flushing a folder makes a rename or a new entry in it durable. A file is published into a
/// folder its job created (`downloads/<id>/`), so the folder holding that one is flushed too: its
/// entry for the new folder is what a power cut would otherwise lose, file and all (ext4 happens
/// to commit both in one journal transaction; POSIX promises nothing of the kind).
enum FolderSync {
    static func sync(_ folder: String) throws(JobFailure) {
        try syncOne(folder)
        let parent = (folder as NSString).deletingLastPathComponent
        if !parent.isEmpty, parent != folder { try syncOne(parent) }
    }

    /// Flushes a file found already in place (a retry after a report was lost): the attempt that
    /// put it there may have died before its own fsyncs, and a record must not point at a file
    /// still only in memory.
    static func syncExisting(_ file: String) throws(JobFailure) {
        let descriptor = open(file, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw SpoolFile.failure("open", file) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 || errno == EINVAL else { throw SpoolFile.failure("fsync", file) }
        try sync((file as NSString).deletingLastPathComponent)
    }

    static func syncOne(_ folder: String) throws(JobFailure) {
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw SpoolFile.failure("open the folder", folder) }
        defer { close(descriptor) }
        try flush(descriptor, of: folder)
    }

    /// Flushes an open folder.
    static func flush(_ descriptor: Int32, of folder: String) throws(JobFailure) {
        // EINVAL: the file system cannot flush folders (some FUSE and network mounts); nothing to do.
        guard fsync(descriptor) == 0 || errno == EINVAL else { throw SpoolFile.failure("fsync the folder", folder) }
    }
}

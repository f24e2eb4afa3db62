import Crypto
import FerryCore
import Foundation

/// A `dir` target: a mounted folder. The copy is written under a temporary name beside its final
/// one, hashed on the way, fsynced, checked against the source's size and SHA-256, then renamed
/// into place and the folder flushed, so the target never shows a partial file at a final name.
struct DirectoryTarget {
    let root: String

    func deliver(
        _ spec: UploadSpec, as objectName: String, attempt lease: JobLease,
        report: @escaping @Sendable (JobProgress, String?) async -> Void
    ) async throws(JobFailure) -> JobResult {
        let (final, folder, name) = try place(objectName, attempt: lease)
        // Delivered before (a retry after a lost report): the same bytes are there; made durable.
        if let existing = try? FileHashing.sizeAndSHA256(of: final),
            existing.size == spec.sourceSize, existing.sha256 == spec.sourceSHA256
        {
            try FolderSync.syncExisting(final)
            return JobResult(location: final, size: existing.size, sha256: existing.sha256)
        }
        let temporary = "\(folder)/.\(name).ferry-\(lease.jobID)-\(lease.attempt).part"
        let copied: (size: Int64, sha256: String)
        do {
            copied = try await FileHashing.copy(from: spec.sourcePath, to: temporary) { done in
                await report(JobProgress(bytesDone: done, bytesTotal: spec.sourceSize), nil)
            }
        } catch {
            unlink(temporary)
            throw error
        }
        guard copied.size == spec.sourceSize, copied.sha256 == spec.sourceSHA256 else {
            unlink(temporary)
            throw .retryable(
                "checksum_mismatch",
                "the copy in \(root) has \(copied.size) bytes and SHA-256 \(copied.sha256); the download has \(spec.sourceSize) and \(spec.sourceSHA256)"
            )
        }
        guard rename(temporary, final) == 0 else {
            let failure = SpoolFile.failure("rename", final)
            unlink(temporary)
            throw failure
        }
        try FolderSync.sync(folder)
        return JobResult(location: final, size: copied.size, sha256: copied.sha256)
    }

    /// A folder result (a torrent of several files), delivered as the folder `<root>/<objectName>`:
    /// every file copied (hashed on the way, fsynced) into a temporary folder beside it, the
    /// copy's manifest checked against the download's size and SHA-256, then the folder renamed
    /// into place, so the target never shows a partial folder at its final name.
    func deliverFolder(
        _ spec: UploadSpec, as objectName: String, attempt lease: JobLease,
        report: @escaping @Sendable (JobProgress, String?) async -> Void
    ) async throws(JobFailure) -> JobResult {
        let (final, parent, name) = try place(objectName, attempt: lease)
        if FolderManifest.isFolder(final), let existing = try? FolderManifest.of(final),
            existing.size == spec.sourceSize, existing.sha256 == spec.sourceSHA256
        {
            return JobResult(location: final, size: existing.size, sha256: existing.sha256)
        }
        let staging = "\(parent)/.\(name).ferry-\(lease.jobID)-\(lease.attempt).part"
        try? FileManager.default.removeItem(atPath: staging)
        var entries: [FolderManifest.Entry] = []
        var done: Int64 = 0
        do throws(JobFailure) {
            for relative in try FolderManifest.files(in: spec.sourcePath) {
                let destination = "\(staging)/\(relative)"
                let folder = (destination as NSString).deletingLastPathComponent
                do {
                    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                } catch {
                    throw JobFailure.retryable(
                        "target_unavailable", "cannot create \(folder): \(error.localizedDescription)")
                }
                let before = done
                let copied = try await FileHashing.copy(from: "\(spec.sourcePath)/\(relative)", to: destination) {
                    await report(JobProgress(bytesDone: before + $0, bytesTotal: spec.sourceSize), nil)
                }
                done += copied.size
                entries.append(FolderManifest.Entry(path: relative, size: copied.size, sha256: copied.sha256))
            }
            let manifest = FolderManifest(entries)
            guard manifest.size == spec.sourceSize, manifest.sha256 == spec.sourceSHA256 else {
                throw JobFailure.retryable(
                    "checksum_mismatch",
                    "the copy of the folder in \(root) has \(manifest.size) bytes and manifest SHA-256 \(manifest.sha256); the download has \(spec.sourceSize) and \(spec.sourceSHA256)"
                )
            }
            for relative in Set(entries.map { ($0.path as NSString).deletingLastPathComponent }) {
                try FolderSync.sync(relative.isEmpty ? staging : "\(staging)/\(relative)")
            }
            // An earlier, different copy at the final name gives way to this one.
            if FileManager.default.fileExists(atPath: final) { try? FileManager.default.removeItem(atPath: final) }
            guard rename(staging, final) == 0 else { throw SpoolFile.failure("rename", final) }
            try FolderSync.sync(parent)
            return JobResult(location: final, size: manifest.size, sha256: manifest.sha256)
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }

    /// Where `objectName` goes (its path, folder and name), the folder made, and what earlier
    /// attempts of this job left there removed. The root must exist: creating it would fill the
    /// disk under an unmounted mount point.
    private func place(
        _ objectName: String, attempt lease: JobLease
    ) throws(JobFailure) -> (final: String, folder: String, name: String) {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isFolder), isFolder.boolValue else {
            throw .retryable("target_unavailable", "the target folder \(root) does not exist (is it mounted?)")
        }
        let final = "\(root)/\(objectName)"
        let folder = (final as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw .retryable("target_unavailable", "cannot create \(folder): \(error.localizedDescription)")
        }
        let name = (final as NSString).lastPathComponent
        removeTemporaries(in: folder, of: name, job: lease.jobID, before: lease.attempt)
        return (final, folder, name)
    }

    /// Removes the temporary copies (files, or folders of a folder result) that earlier attempts
    /// of this job left behind: an attempt killed mid-copy (its worker died or hung) never reaches
    /// its own clean-up, and the next one writes under a new name.
    private func removeTemporaries(in folder: String, of name: String, job: JobID, before attempt: Int) {
        let prefix = ".\(name).ferry-\(job)-"
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        where entry.hasPrefix(prefix) && entry.hasSuffix(".part") {
            let number = entry.dropFirst(prefix.count).dropLast(".part".count)
            if let earlier = Int(number), earlier < attempt {
                try? FileManager.default.removeItem(atPath: "\(folder)/\(entry)")
            }
        }
    }
}

/// Reading and copying files while hashing them.
enum FileHashing {
    static let chunk = 1 << 20

    static func sizeAndSHA256(of path: String) throws(JobFailure) -> (size: Int64, sha256: String) {
        let input = open(path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw SpoolFile.failure("open", path) }
        defer { close(input) }
        var hasher = SHA256()
        var size: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: chunk)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, chunk) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SpoolFile.failure("read", path)
            }
            if count == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            size += Int64(count)
        }
        return (size, hex(hasher.finalize()))
    }

    /// Copies `source` to a new file `destination` (fsynced), hashing what was written; reports
    /// the bytes done about once a second. Stops at the next chunk when the task is cancelled.
    static func copy(
        from source: String, to destination: String, progress: @Sendable (Int64) async -> Void
    ) async throws(JobFailure) -> (size: Int64, sha256: String) {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw SpoolFile.failure("open", source) }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard output >= 0 else { throw SpoolFile.failure("create", destination) }
        defer { close(output) }
        var hasher = SHA256()
        var size: Int64 = 0
        var writeback = WritebackPacer(from: 0)
        var buffer = [UInt8](repeating: 0, count: chunk)
        let clock = ContinuousClock()
        var lastReport = clock.now
        while true {
            if Task.isCancelled { throw .retryable("cancelled", "the upload was stopped") }
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, chunk) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SpoolFile.failure("read", source)
            }
            if count == 0 { break }
            var offset = 0
            while offset < count {
                let written = buffer.withUnsafeBytes { write(output, $0.baseAddress! + offset, count - offset) }
                if written < 0 {
                    if errno == EINTR { continue }
                    throw SpoolFile.failure("write", destination)
                }
                offset += written
            }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            size += Int64(count)
            writeback.wrote(upTo: size, of: output)
            if clock.now - lastReport >= .seconds(1) {
                lastReport = clock.now
                await progress(size)
            }
        }
        guard fsync(output) == 0 else { throw SpoolFile.failure("fsync", destination) }
        await progress(size)
        return (size, hex(hasher.finalize()))
    }

    static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}

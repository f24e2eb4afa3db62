import Crypto
import FerryCore
import Foundation

/// A `.torrent` file sent with `POST /api/downloads`: kept as
/// `<state_dir>/torrents/<SHA-256 of the file>.torrent`, written and fsynced (file and folder)
/// before the job that names it is queued, so an acknowledged job never points at a file a crash
/// lost. The same file sent twice is kept once. The job's url is the file's `file://` URL; the
/// download worker takes a `file:` URL only from that folder.
enum UploadedTorrent {
    static func folder(stateDirectory: String) -> String { stateDirectory + "/torrents" }

    /// Where `bytes` are kept.
    static func path(of bytes: [UInt8], stateDirectory: String) -> String {
        let digest = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        return "\(folder(stateDirectory: stateDirectory))/\(digest).torrent"
    }

    /// The job's url for the file at `path`.
    static func url(of path: String) -> String { URL(fileURLWithPath: path).absoluteString }

    /// Writes `bytes` to `path` durably (unless they are there already); a failure is a 503: the
    /// state folder cannot take it now.
    static func store(_ bytes: [UInt8], at path: String) throws(APIError) {
        if let existing = FileManager.default.contents(atPath: path), Array(existing) == bytes { return }
        let folder = (path as NSString).deletingLastPathComponent
        let temporary = "\(path).\(getpid())-\(UInt64.random(in: 0 ... .max)).tmp"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            defer { close(descriptor) }
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
                guard written > 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
                offset += written
            }
            guard fsync(descriptor) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            guard rename(temporary, path) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        } catch {
            unlink(temporary)
            throw APIError(
                .serviceUnavailable, "storage_unavailable", "the .torrent file cannot be stored in \(folder): \(error)")
        }
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if descriptor >= 0 {
            fsync(descriptor)
            close(descriptor)
        }
    }
}

import FerryCore
import Foundation

/// Says, on disk, that an upload's attempt is sending its file to Telegram: written just before
/// the request, removed once an answer (or its certain absence) settled the send. A marker an
/// earlier attempt left behind means that attempt died (its worker or the supervisor was killed)
/// while Telegram may have been taking the file; the Bot API has no idempotency key, so the next
/// send may make a second copy, and it is counted like a lost answer.
///
/// The marker is `<state_dir>/telegram/sending/<upload job id>`, holding the attempt's number.
struct TelegramSendMarker {
    let path: String
    let attempt: Int

    init(stateDirectory: String, job: JobID, attempt: Int) {
        path = "\(stateDirectory)/telegram/sending/\(job.rawValue)"
        self.attempt = attempt
    }

    /// The attempt an earlier, interrupted send belonged to (0 when its marker cannot be read);
    /// nil when there is none.
    func interruptedAttempt() -> Int? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let earlier = Int(String(decoding: data, as: UTF8.self)) ?? 0
        return earlier == attempt ? nil : earlier
    }

    /// Written in place, not through a temporary file and a rename (`FileManager.createFile`): a
    /// worker killed between those two left a stray `.dat.nosync…` file here for good (found by
    /// the chaos suite). Killed mid-write, the marker reads as attempt 0: an interrupted send,
    /// the careful answer.
    func write() {
        let folder = (path as NSString).deletingLastPathComponent
        var descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        if descriptor < 0, errno == ENOENT {
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        }
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        let text = Array(String(attempt).utf8)
        _ = text.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
    }

    func remove() {
        unlink(path)
    }
}

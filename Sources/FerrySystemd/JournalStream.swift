public import Foundation

/// Whether a standard stream of this process is connected to systemd's journal.
///
/// systemd sets `JOURNAL_STREAM=<device>:<inode>` for a service whose output goes to the journal.
/// The variable is inherited by every child, including those whose standard error was redirected
/// (a worker's goes to a pipe its supervisor reads), so as systemd documents (systemd.exec(5)),
/// it counts only when the device and inode match the stream itself.
public enum JournalStream {
    /// True when standard error is the stream `JOURNAL_STREAM` names.
    public static func isStandardErrorJournal(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Bool {
        matches(environment["JOURNAL_STREAM"], descriptor: STDERR_FILENO)
    }

    /// True when `descriptor` is the stream a `JOURNAL_STREAM` value (`<device>:<inode>`) names.
    public static func matches(_ value: String?, descriptor: Int32) -> Bool {
        guard let value else { return false }
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }
}

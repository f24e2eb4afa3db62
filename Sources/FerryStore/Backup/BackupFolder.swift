public import Foundation

/// The folder of scheduled database copies: their names, and pruning the oldest.
///
/// Scheduled copies are named `ferry-<UTC time>.sqlite` (`ferry-20261129T213000Z.sqlite`), so the
/// names sort by age; copies a person asked for are named `ferry-<UTC time>-manual.sqlite` and are
/// never pruned. Temporary files of a copy in progress start with a dot.
public struct BackupFolder: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// Where a new copy made at `date` goes.
    public func newCopyPath(at date: Date, manual: Bool) -> String {
        path + "/ferry-" + Self.stamp(date) + (manual ? "-manual" : "") + ".sqlite"
    }

    /// The scheduled copies, oldest first.
    public func scheduledCopies() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter(Self.isScheduledCopy).sorted().map { path + "/" + $0 }
    }

    /// Removes scheduled copies beyond the newest `keep`; returns the removed paths.
    @discardableResult
    public func prune(keeping keep: Int) -> [String] {
        let copies = scheduledCopies()
        guard copies.count > keep else { return [] }
        let old = copies.prefix(copies.count - keep)
        return old.filter { unlink($0) == 0 }
    }

    /// `20261129T213000Z`: UTC, sortable, no characters a file name or a shell minds.
    static func stamp(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d%02d%02dT%02d%02d%02dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour,
            parts.tm_min, parts.tm_sec)
    }

    static func isScheduledCopy(_ name: String) -> Bool {
        // ferry-YYYYMMDDTHHMMSSZ.sqlite
        name.count == 29 && name.hasPrefix("ferry-") && name.hasSuffix("Z.sqlite")
    }
}

/// The note `ferry db restore` leaves beside the database it put in place, so that the next
/// `ferry serve` reconciles the restored records with the files at once (a cleanup run) rather
/// than at its next scheduled run: files may have appeared or vanished since the copy was made.
public enum RestoreMarker {
    public static func path(for databasePath: String) -> String { databasePath + ".restored" }

    public static func exists(for databasePath: String) -> Bool {
        FileManager.default.fileExists(atPath: path(for: databasePath))
    }

    public static func remove(for databasePath: String) {
        unlink(path(for: databasePath))
    }
}

import Foundation

/// Space and inodes on the file system that holds a folder, so health can warn before a managed
/// folder fills up; either running out stops writes.
public struct DiskUsage: Sendable, Hashable {
    public var totalBytes: Int
    public var freeBytes: Int
    /// What an unprivileged process may still write: `freeBytes` minus the root reserve.
    public var availableBytes: Int
    public var totalInodes: Int
    public var freeInodes: Int

    public init(totalBytes: Int, freeBytes: Int, availableBytes: Int, totalInodes: Int, freeInodes: Int) {
        self.totalBytes = totalBytes
        self.freeBytes = freeBytes
        self.availableBytes = availableBytes
        self.totalInodes = totalInodes
        self.freeInodes = freeInodes
    }

    /// Measures the file system holding `path` with statvfs(3).
    /// - Important: statvfs blocks while a network mount does not answer.
    public static func measure(folder path: String) throws(DiskUsageError) -> DiskUsage {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { throw DiskUsageError(path: path, errorNumber: errno) }
        // Block counts are in fragments (f_frsize); f_bsize is only the preferred I/O size.
        let fragment = UInt64(info.f_frsize)
        return DiskUsage(
            totalBytes: bytes(UInt64(info.f_blocks), fragment), freeBytes: bytes(UInt64(info.f_bfree), fragment),
            availableBytes: bytes(UInt64(info.f_bavail), fragment),
            totalInodes: Int(clamping: UInt64(info.f_files)), freeInodes: Int(clamping: UInt64(info.f_ffree)))
    }

    private static func bytes(_ count: UInt64, _ size: UInt64) -> Int {
        let (product, overflow) = count.multipliedReportingOverflow(by: size)
        return overflow ? Int.max : Int(clamping: product)
    }
}

/// Why a folder's disk usage could not be measured: a code safe as a metric label, the folder and
/// a message for a person.
public struct DiskUsageError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable identifier of the kind of failure.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The folder (or a folder above it) does not exist.
        public static let missingFolder = Code(rawValue: "missing_folder")
        /// The daemon's user may not search a folder on the path.
        public static let permissionDenied = Code(rawValue: "permission_denied")
        /// Anything else statvfs refused.
        public static let failed = Code(rawValue: "disk_usage_failed")
    }

    public var code: Code
    public var path: String
    public var message: String

    public init(_ code: Code, path: String, message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    init(path: String, errorNumber: Int32) {
        let reason = String(cString: strerror(errorNumber))
        switch errorNumber {
        case ENOENT, ENOTDIR:
            self.init(
                .missingFolder, path: path, message: "\(path) does not exist (\(reason)); create it or fix the path")
        case EACCES:
            self.init(.permissionDenied, path: path, message: "cannot reach \(path) (\(reason)); check its permissions")
        default:
            self.init(.failed, path: path, message: "cannot measure the disk of \(path): \(reason)")
        }
    }

    public var description: String { "\(message) [\(code)]" }
}

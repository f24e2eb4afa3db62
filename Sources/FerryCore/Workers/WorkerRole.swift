public import Foundation

/// The kinds of worker process the supervisor runs.
public enum WorkerRole: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
    case download
    case upload
    /// Permanent video storage.
    case store
    /// Scheduled scans, reconciliation and retention.
    case cleanup
    /// Long-polls the configured Telegram bots for media and links.
    case telegram

    public var description: String { rawValue }

    /// The job kind this role executes, if it executes jobs.
    public var jobKind: JobKind? {
        switch self {
        case .download: .download
        case .upload: .upload
        case .store: .video
        case .cleanup, .telegram: nil
        }
    }
}

/// A worker process as the store records it, so its history survives a supervisor restart.
public struct WorkerRecord: Hashable, Sendable {
    public var id: WorkerID
    public var role: WorkerRole
    public var slot: Int
    public var pid: Int32?
    public var startedAt: Date
    public var lastHeartbeatAt: Date?
    public var exit: WorkerExit?

    public init(
        id: WorkerID, role: WorkerRole, slot: Int, pid: Int32?, startedAt: Date, lastHeartbeatAt: Date? = nil,
        exit: WorkerExit? = nil
    ) {
        self.id = id
        self.role = role
        self.slot = slot
        self.pid = pid
        self.startedAt = startedAt
        self.lastHeartbeatAt = lastHeartbeatAt
        self.exit = exit
    }
}

/// How and why a worker process ended.
public struct WorkerExit: Hashable, Sendable {
    public var at: Date
    public var exitCode: Int32?
    public var signal: Int32?
    /// A short classification such as `crash`, `hang`, `oom`, `clean`, `supervisor_restart`.
    public var reason: String
    /// The last lines the worker wrote to its standard error.
    public var stderrTail: String?

    public init(at: Date, exitCode: Int32? = nil, signal: Int32? = nil, reason: String, stderrTail: String? = nil) {
        self.at = at
        self.exitCode = exitCode
        self.signal = signal
        self.reason = reason
        self.stderrTail = stderrTail
    }
}

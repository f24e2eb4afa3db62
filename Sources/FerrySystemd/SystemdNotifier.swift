internal import CSystemd
public import Foundation

/// Tells systemd's service manager how Ferry is doing, through `sd_notify(3)`.
///
/// Every call is a no-op when the process was not started by systemd (no `NOTIFY_SOCKET`), so
/// the same code runs under systemd, in a terminal and in tests. Tests point `NOTIFY_SOCKET` at a
/// datagram socket of their own to watch the messages.
public struct SystemdNotifier: Sendable {
    /// One `KEY=value` assignment of the notify protocol.
    public enum Message: Sendable, Hashable {
        /// Start-up is finished (or a reload is).
        case ready
        /// A reload began; systemd wants the monotonic time with it (`MONOTONIC_USEC`).
        case reloading(monotonicMicroseconds: UInt64)
        /// Shutdown began.
        case stopping
        /// A one-line summary shown by `systemctl status`.
        case status(String)
        /// The keep-alive ping for `WatchdogSec=`.
        case watchdog
        /// Ask for more time to start, reload or stop, counted from now.
        case extendTimeout(Duration)
        /// The main process's pid, when it is not the one systemd started.
        case mainPID(Int32)

        /// The protocol text of this assignment.
        public var assignment: String {
            switch self {
            case .ready: "READY=1"
            case .reloading(let usec): "RELOADING=1\nMONOTONIC_USEC=\(usec)"
            case .stopping: "STOPPING=1"
            // A newline would start a new assignment: the status is one line by protocol.
            case .status(let text): "STATUS=" + text.split(whereSeparator: \.isNewline).joined(separator: " ")
            case .watchdog: "WATCHDOG=1"
            case .extendTimeout(let duration):
                "EXTEND_TIMEOUT_USEC=\(max(0, duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000))"
            case .mainPID(let pid): "MAINPID=\(pid)"
            }
        }
    }

    /// Whether a service manager is listening; when not, every call does nothing.
    public let isEnabled: Bool

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        isEnabled = !(environment["NOTIFY_SOCKET"] ?? "").isEmpty
    }

    /// Sends the messages as one datagram, so systemd applies them together.
    /// - Throws: ``SystemdError`` when the notify socket exists but the message cannot be sent.
    public func notify(_ messages: Message...) throws(SystemdError) {
        try notify(messages)
    }

    /// Sends the messages as one datagram, so systemd applies them together.
    public func notify(_ messages: [Message]) throws(SystemdError) {
        guard isEnabled, !messages.isEmpty else { return }
        let text = messages.map(\.assignment).joined(separator: "\n")
        let result = sd_notify(0, text)
        if result < 0 {
            throw SystemdError(operation: "sd_notify", errno: -result)
        }
    }

    /// The watchdog interval systemd asked for (`WatchdogSec=`), or nil when it asked for none.
    /// Ping at half of it.
    public func watchdogInterval() throws(SystemdError) -> Duration? {
        guard isEnabled else { return nil }
        var microseconds: UInt64 = 0
        let result = sd_watchdog_enabled(0, &microseconds)
        if result < 0 { throw SystemdError(operation: "sd_watchdog_enabled", errno: -result) }
        return result > 0 ? .microseconds(Int64(microseconds)) : nil
    }

    /// The current `CLOCK_MONOTONIC` time in microseconds, as `RELOADING=1` wants it.
    public static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    }
}

/// A libsystemd call that failed.
public struct SystemdError: Error, Hashable, Sendable, CustomStringConvertible {
    public let operation: String
    public let errno: Int32

    public var description: String {
        "\(operation) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

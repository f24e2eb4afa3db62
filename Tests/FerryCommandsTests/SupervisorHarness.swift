import FerryCore
import FerryStore
import FerryTesting
import Foundation
import Testing

/// A real `ferry serve` in a scratch folder, with a notify socket standing in for systemd.
final class SupervisorHarness {
    let scratch: Scratch
    let notify: NotifySocket
    let serve: FerryProcess.Running
    private(set) var notifications: [String] = []

    init(environment: [String: String] = [:], arguments: [String] = []) throws {
        scratch = try Scratch()
        notify = try NotifySocket(in: scratch.url)
        var environment = environment
        environment["NOTIFY_SOCKET"] = notify.path
        serve = try FerryProcess.start(
            ["serve"] + arguments, in: scratch.url, environment: environment, logDirectory: scratch.url)
    }

    var pid: Int32 { serve.process.processIdentifier }

    /// The admin API's base URL, from the supervisor's "admin API listening" log line.
    func adminURL(timeout: Double = 30) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        let log = scratch.url.appendingPathComponent("serve.err")
        while Date() < deadline {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.contains("admin API listening") }),
                let start = line.range(of: "url=")
            {
                return String(line[start.upperBound...].prefix { !$0.isWhitespace })
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw AdminNotListening(log: (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    struct AdminNotListening: Error, CustomStringConvertible {
        var log: String
        var description: String { "the admin API never said it was listening; log:\n\(log)" }
    }

    /// Waits for a notification containing `text`; returns it, or nil after `timeout` seconds.
    @discardableResult
    func waitForNotification(containing text: String, timeout: Double = 30) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard let message = notify.receive(timeout: max(0.05, deadline.timeIntervalSinceNow)) else { continue }
            notifications.append(message)
            if message.contains(text) { return message }
        }
        return nil
    }

    /// The worker processes of this supervisor (or of `parent`, one started later on the same
    /// state), by role, read from /proc.
    func workers(of parent: Int32? = nil) -> [WorkerRole: [Int32]] {
        var byRole: [WorkerRole: [Int32]] = [:]
        for (pid, command) in ProcessTable.children(of: parent ?? pid) {
            guard let range = command.range(of: "--role\u{0}") else { continue }
            let role = command[range.upperBound...].prefix { $0 != "\u{0}" }
            if let role = WorkerRole(rawValue: String(role)) { byRole[role, default: []].append(pid) }
        }
        return byRole
    }

    /// Waits until `condition` holds for the workers, or `timeout` seconds pass.
    func waitForWorkers(timeout: Double = 20, _ condition: ([WorkerRole: [Int32]]) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition(workers()) { return true }
            usleep(20_000)
        }
        return false
    }

    /// The store, read-only, as the supervisor keeps it.
    func store() throws -> SQLiteJobStore {
        try SQLiteJobStore.open(
            StoreConfiguration(
                path: scratch.url.appendingPathComponent("ferry-state/ferry.sqlite").path, readOnly: true))
    }

    /// Stops the supervisor with SIGTERM and returns its exit status.
    func stop() -> Int32 {
        serve.process.terminate()
        serve.process.waitUntilExit()
        return serve.process.terminationStatus
    }

    deinit {
        if serve.process.isRunning {
            kill(serve.process.processIdentifier, SIGKILL)
            serve.process.waitUntilExit()
        }
        scratch.remove()
    }
}

/// Reads the process table from /proc.
enum ProcessTable {
    /// Live (non-zombie) children of `parent`, with their NUL-separated command lines.
    static func children(of parent: Int32) -> [(Int32, String)] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { entry -> (Int32, String)? in
            guard let pid = Int32(entry), let stat = self.stat(pid), stat.parent == parent, stat.state != "Z" else {
                return nil
            }
            let command = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
            return (pid, String(decoding: command, as: UTF8.self))
        }
    }

    /// State letter and parent pid of a process, or nil when it does not exist.
    static func stat(_ pid: Int32) -> (state: Character, parent: Int32)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 2, let state = fields[0].first, let parent = Int32(fields[1]) else { return nil }
        return (state, parent)
    }

    /// Whether a process exists and is not a zombie.
    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = stat(pid) else { return false }
        return stat.state != "Z"
    }
}

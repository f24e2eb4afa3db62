import ArgumentParser
import Foundation

/// `ferry status`: the running daemon's health, workers and queues, from its admin API.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the running daemon's health, workers and queues.",
        discussion: "Exits 0 on pass or warn, 1 on fail, 69 when the daemon does not answer.")

    @OptionGroup var options: ClientOptions

    func run() async throws {
        let client = try options.client()
        let health = try await client.get("/api/health/system")
        guard health.status == 200 || health.status == 503 else { try client.expectSuccess(health); return }
        let workers = try client.expectSuccess(try await client.get("/api/workers"))
        let sync = try await client.get("/api/health/sync")
        if options.json {
            print(#"{"health":\#(health.body),"workers":\#(workers.body),"sync":\#(sync.body)}"#)
        } else {
            print(Self.describe(health: health.object, workers: workers.object, sync: sync.object))
        }
        if health.object["status"] as? String == "fail" { throw ExitStatus.failure }
    }

    static func describe(health: [String: Any], workers: [String: Any], sync: [String: Any]) -> String {
        var lines = ["ferry \(health["version"] as? String ?? "?"): \(health["status"] as? String ?? "?")"]
        for note in health["notes"] as? [String] ?? [] { lines.append("  - \(note)") }
        var table = TextTable(header: ["WORKER", "PID", "STATE", "HEARTBEAT", "MEMORY", "JOBS"])
        for worker in workers["workers"] as? [[String: Any]] ?? [] {
            table.rows.append([
                worker["id"] as? String ?? "", (worker["pid"] as? Int).map(String.init) ?? "-",
                worker["state"] as? String ?? "",
                (worker["heartbeat_age_seconds"] as? Double).map { String(format: "%.1fs", $0) } ?? "-",
                (worker["resident_bytes"] as? Int).map { "\($0 / 1_048_576) MiB" } ?? "-",
                "\((worker["jobs"] as? [Any])?.count ?? 0)",
            ])
        }
        lines += ["", table.render()]
        var queue = TextTable(header: ["KIND", "STATE", "JOBS"])
        for entry in sync["queue"] as? [[String: Any]] ?? [] where (entry["count"] as? Int ?? 0) > 0 {
            queue.rows.append([
                entry["kind"] as? String ?? "", entry["state"] as? String ?? "", "\(entry["count"] as? Int ?? 0)",
            ])
        }
        lines += ["", queue.rows.isEmpty ? "no jobs" : queue.render()]
        return lines.joined(separator: "\n")
    }
}

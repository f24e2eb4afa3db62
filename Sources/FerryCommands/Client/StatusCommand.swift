import ArgumentParser
import FerryCore
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
        let history = try await client.get("/api/metrics/history")
        // A node of a cluster (PostgreSQL) also shows every node; a SQLite daemon answers 404.
        let cluster = try await client.get("/api/cluster")
        let clustered = cluster.status == 200
        let telegram = try await client.get("/api/telegram/bots")
        let bots = telegram.status == 200 ? telegram.object["bots"] as? [[String: Any]] ?? [] : []
        if options.json {
            let nodes = clustered ? #","cluster":\#(cluster.body)"# : ""
            let relay = bots.isEmpty ? "" : #","telegram":\#(telegram.body)"#
            print(
                #"{"health":\#(health.body),"workers":\#(workers.body),"sync":\#(sync.body),"history":\#(history.body)\#(nodes)\#(relay)}"#
            )
        } else {
            print(Self.describe(health: health.object, workers: workers.object, sync: sync.object))
            if clustered { print("\n" + Self.cluster(cluster.object)) }
            if !bots.isEmpty { print("\n" + Self.telegram(bots)) }
            if let machine = Self.machine(history.object) { print("\n" + machine) }
        }
        if health.object["status"] as? String == "fail" { throw ExitStatus.failure }
    }

    /// Every node on the shared queue: this one marked, with its lease left, workers and jobs.
    static func cluster(_ cluster: [String: Any]) -> String {
        var lines = [
            "cluster: this node is \(cluster["this_node"] as? String ?? "?") (\(cluster["state"] as? String ?? "?"))"
        ]
        if let reason = cluster["fenced_reason"] as? String { lines.append("  - \(reason)") }
        var table = TextTable(header: ["NODE", "ADDRESS", "LIVE", "LEASE LEFT", "WORKERS", "JOBS"])
        for node in cluster["nodes"] as? [[String: Any]] ?? [] {
            let live = node["live"] as? Bool == true
            table.rows.append([
                (node["id"] as? String ?? "") + (node["this_node"] as? Bool == true ? " *" : ""),
                node["address"] as? String ?? "-",
                live ? "yes" : (node["stop_reason"] as? String).map { "no: \($0)" } ?? "no: lease ran out",
                live ? String(format: "%.1fs", node["lease_left_seconds"] as? Double ?? 0) : "-",
                "\(node["workers"] as? Int ?? 0)", "\(node["jobs_held"] as? Int ?? 0)",
            ])
        }
        lines += ["", table.render()]
        return lines.joined(separator: "\n")
    }

    /// Every configured bot: the node polling it (on a cluster), whether it reaches Telegram, its backlog.
    static func telegram(_ bots: [[String: Any]]) -> String {
        var table = TextTable(header: ["BOT", "POLLED BY", "CONNECTED", "UPDATES", "BACKLOG"])
        for bot in bots {
            let connected: String
            if let reachable = bot["connected"] as? Bool {
                connected = reachable ? "yes" : "no: \(bot["problem"] as? String ?? "no answer")"
            } else {
                connected = bot["polled_by"] == nil ? "not yet" : "-"
            }
            table.rows.append([
                bot["name"] as? String ?? "?", bot["polled_by"] as? String ?? "this node", connected,
                "\(bot["updates"] as? Int ?? 0)", "\(bot["backlog"] as? Int ?? 0)",
            ])
        }
        return "telegram bots:\n\n" + table.render()
    }

    /// The machine's figures from the newest sample, as the page shows them: CPU, load, memory,
    /// and free space in each managed folder.
    static func machine(_ history: [String: Any]) -> String? {
        guard let sample = (history["samples"] as? [[String: Any]])?.last else { return nil }
        var lines: [String] = []
        let cpu = (sample["cpu_busy_ratio"] as? Double).map { String(format: "%.1f %%", $0 * 100) } ?? "-"
        let load = (sample["load1"] as? Double).map { String(format: "%.2f", $0) } ?? "-"
        lines.append("machine: CPU \(cpu) busy, load \(load)")
        if let available = (sample["memory_available_bytes"] as? NSNumber)?.int64Value,
            let total = (sample["memory_total_bytes"] as? NSNumber)?.int64Value
        {
            lines.append(
                "memory: \(ByteCount.describe(available)) available of \(ByteCount.describe(total))")
        }
        let free = sample["disk_available_bytes"] as? [String: Any] ?? [:]
        let totals = sample["disk_total_bytes"] as? [String: Any] ?? [:]
        var disks = TextTable(header: ["FOLDER", "FREE", "SIZE", "USED"])
        for folder in free.keys.sorted() {
            guard let available = (free[folder] as? NSNumber)?.int64Value else { continue }
            let total = (totals[folder] as? NSNumber)?.int64Value ?? 0
            let used = total > 0 ? String(format: "%.0f %%", 100 * Double(total - available) / Double(total)) : "-"
            disks.rows.append([folder, ByteCount.describe(available), ByteCount.describe(total), used])
        }
        if !disks.rows.isEmpty { lines += ["", disks.render()] }
        return lines.joined(separator: "\n")
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

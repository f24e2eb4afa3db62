import ArgumentParser
import Foundation

/// `ferry cleanup`, `ferry check` and `ferry repair`: a cleanup run through the running daemon.
struct CleanupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Start a cleanup run: sweep, pending scan, reconcile records with files, retention.",
        discussion: """
            Starts a run (or joins the one under way) and, with --wait, prints what it found and did.
            A dry run changes nothing. `ferry check` is `cleanup --dry-run --wait`; `ferry repair` is
            `cleanup --wait`. Exits 0 when the run succeeded, 1 when it failed, 69 when the daemon
            does not answer.
            """)

    @OptionGroup var options: ClientOptions

    @Flag(help: "Report what would be done, change nothing.")
    var dryRun = false

    @Flag(help: "Wait for the run to finish and print its report.")
    var wait = false

    @Option(help: "With --wait: seconds to wait at most.")
    var timeout: Int = 600

    func run() async throws {
        try await Self.run(options: options, dryRun: dryRun, wait: wait, timeout: timeout)
    }

    static func run(options: ClientOptions, dryRun: Bool, wait: Bool, timeout: Int) async throws {
        let client = try options.client()
        let answer = try client.expectSuccess(
            try await client.post("/api/health/sync/cleanup", json: ["dry_run": dryRun]))
        var run = answer.object["run"] as? [String: Any] ?? [:]
        let started = answer.object["started"] as? Bool ?? false
        if !started && !options.json {
            print("a cleanup run is already under way (run \(run["id"] as? Int ?? 0)); following it")
        }
        let deadline = Date().addingTimeInterval(Double(timeout))
        while wait && run["state"] as? String == "running" && Date() < deadline {
            try await Task.sleep(for: .milliseconds(200))
            run = try client.expectSuccess(try await client.get("/api/cleanup/runs/\(run["id"] as? Int ?? 0)")).object
        }
        if options.json {
            let data = try JSONSerialization.data(withJSONObject: run, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(describe(run))
        }
        if run["state"] as? String == "failed" { throw ExitStatus.failure }
    }

    static func describe(_ run: [String: Any]) -> String {
        let id = run["id"] as? Int ?? 0
        let dry = run["dry_run"] as? Bool == true ? " (dry run: nothing was changed)" : ""
        var lines = ["cleanup run \(id): \(run["state"] as? String ?? "?")\(dry)"]
        if let error = run["error"] as? String { lines.append("  error: \(error)") }
        guard let report = run["report"] as? [String: Any] else { return lines.joined(separator: "\n") }
        func list(_ key: String) -> [Any] { report[key] as? [Any] ?? [] }
        lines.append(
            "  scanned \(report["scanned_records"] as? Int ?? 0) records and \(report["scanned_files"] as? Int ?? 0) files"
        )
        lines.append("  sweep: \(list("sweep_requeued").count) running jobs without a live worker requeued")
        lines.append(
            "  pending: \(list("pending_input_missing").count) uploads whose file is gone failed, \(report["pending_dispatched"] as? Int ?? 0) due jobs dispatched"
        )
        let expired = report["expired_records"] as? Int ?? 0
        let expiredFiles = list("expired_files").count
        lines.append(
            "  retention: \(expired) finished records \(dry.isEmpty ? "deleted" : "to delete")"
                + (expiredFiles > 0 ? ", with \(expiredFiles) files" : ""))
        var table = TextTable(header: ["FINDING", "ACTION", "PATH"])
        for record in list("damaged_records").compactMap({ $0 as? [String: Any] }) {
            table.rows.append([
                "\(record["kind"] as? String ?? "") \(record["job_id"] as? Int ?? 0): \(record["problem"] as? String ?? "")",
                record["action"] as? String ?? "", record["path"] as? String ?? "",
            ])
        }
        for orphan in list("orphan_files").compactMap({ $0 as? [String: Any] }) {
            let action =
                (orphan["action"] as? String ?? "") + ((orphan["job_id"] as? Int).map { " as job \($0)" } ?? "")
            table.rows.append(["no record", action, orphan["path"] as? String ?? ""])
        }
        for upload in list("abandoned_uploads").compactMap({ $0 as? [String: Any] }) {
            table.rows.append([
                "upload \(upload["job_id"] as? Int ?? 0) left a multipart upload", upload["action"] as? String ?? "",
                "\(upload["target"] as? String ?? ""): \(upload["upload_id"] as? String ?? "")",
            ])
        }
        for path in list("stale_partials").compactMap({ $0 as? String }) {
            table.rows.append(["stale partial", run["dry_run"] as? Bool == true ? "would remove" : "removed", path])
        }
        for copy in list("hidden_copies").compactMap({ $0 as? String }) {
            table.rows.append(["hidden copy", run["dry_run"] as? Bool == true ? "would remove" : "removed", copy])
        }
        for path in list("uninterpretable").compactMap({ $0 as? String }) {
            table.rows.append(["cannot interpret", "left alone", path])
        }
        lines.append(table.rows.isEmpty ? "  files and records agree" : "\n" + table.render())
        return lines.joined(separator: "\n")
    }
}

/// `ferry check`: what a cleanup run would do, changing nothing.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Report how records and files disagree, changing nothing (a dry cleanup run).")

    @OptionGroup var options: ClientOptions

    func run() async throws {
        try await CleanupCommand.run(options: options, dryRun: true, wait: true, timeout: 600)
    }
}

/// `ferry repair`: a cleanup run that applies what it finds.
struct RepairCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Run a cleanup now and apply what it finds; prints the report.")

    @OptionGroup var options: ClientOptions

    func run() async throws {
        try await CleanupCommand.run(options: options, dryRun: false, wait: true, timeout: 600)
    }
}

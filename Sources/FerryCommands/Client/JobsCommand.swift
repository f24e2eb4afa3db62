import ArgumentParser
import Foundation

/// `ferry jobs list|show|retry|cancel|pause|resume`: jobs of the running daemon.
struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "List, show and command the running daemon's jobs.",
        subcommands: [List.self, Show.self, WatchCommand.self, Retry.self, Cancel.self, Pause.self, Resume.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Downloads, newest first.")

        @OptionGroup var options: ClientOptions
        @Option(help: "Only jobs in this state (repeatable).") var state: [String] = []
        @Option(help: "How many (1–500).") var limit = 50

        func run() async throws {
            let client = try options.client()
            var query = ["limit=\(limit)"]
            query += state.map { "state=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0)" }
            let answer = try client.expectSuccess(
                try await client.get("/api/downloads?" + query.joined(separator: "&")))
            if options.json { return print(answer.body) }
            var table = TextTable(header: ["ID", "STATE", "ATTEMPT", "PROGRESS", "CREATED"])
            for job in answer.object["jobs"] as? [[String: Any]] ?? [] {
                table.rows.append(JobsCommand.row(job))
            }
            print(table.rows.isEmpty ? "no jobs" : table.render())
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One download with its uploads and events.")

        @OptionGroup var options: ClientOptions
        @Argument(help: "The job id.") var id: Int

        func run() async throws {
            let client = try options.client()
            let answer = try client.expectSuccess(try await client.get("/api/downloads/\(id)"))
            if options.json { return print(answer.body) }
            let job = answer.object["download"] as? [String: Any] ?? [:]
            var table = TextTable(header: ["ID", "STATE", "ATTEMPT", "PROGRESS", "URL"])
            table.rows.append(JobsCommand.row(job))
            for upload in answer.object["uploads"] as? [[String: Any]] ?? [] {
                table.rows.append(JobsCommand.row(upload))
            }
            print(table.render())
            if let error = job["last_error"] as? [String: Any] {
                print("\nlast error: \(error["code"] as? String ?? ""): \(error["message"] as? String ?? "")")
            }
            if let next = JobsCommand.nextAttempt(job, now: Date()) { print(next) }
            var events = TextTable(header: ["AT", "FROM", "TO", "CAUSE", "REASON"])
            for event in answer.object["events"] as? [[String: Any]] ?? [] {
                events.rows.append([
                    event["at"] as? String ?? "", event["from"] as? String ?? "-", event["to"] as? String ?? "",
                    event["cause"] as? String ?? "", event["reason"] as? String ?? "",
                ])
            }
            print("\n" + events.render())
        }
    }

    struct Retry: JobCommandVerb {
        static let configuration = CommandConfiguration(abstract: "Run a failed or cancelled job again.")
        static let verb = "retry"
        @OptionGroup var options: ClientOptions
        @Argument(help: "The job id.") var id: Int
    }

    struct Cancel: JobCommandVerb {
        static let configuration = CommandConfiguration(abstract: "Cancel a job; a running transfer is stopped.")
        static let verb = "cancel"
        @OptionGroup var options: ClientOptions
        @Argument(help: "The job id.") var id: Int
    }

    struct Pause: JobCommandVerb {
        static let configuration = CommandConfiguration(abstract: "Hold a queued job.")
        static let verb = "pause"
        @OptionGroup var options: ClientOptions
        @Argument(help: "The job id.") var id: Int
    }

    struct Resume: JobCommandVerb {
        static let configuration = CommandConfiguration(abstract: "Queue a paused job again.")
        static let verb = "resume"
        @OptionGroup var options: ClientOptions
        @Argument(help: "The job id.") var id: Int
    }

    /// For a job waiting for its next attempt: when it is due and why it waits.
    static func nextAttempt(_ job: [String: Any], now: Date) -> String? {
        guard ["queued", "temporary"].contains(job["state"] as? String ?? ""),
            let text = job["due_at"] as? String,
            let due = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)
        else { return nil }
        let wait = due.timeIntervalSince(now)
        let when = wait > 0.5 ? "in \(Int(wait.rounded())) s (\(text))" : "now (due \(text))"
        let why = (job["state_reason"] as? String).map { ": \($0)" } ?? ""
        return "next attempt: \(when)\(why)"
    }

    static func row(_ job: [String: Any]) -> [String] {
        let progress = job["progress"] as? [String: Any] ?? [:]
        let done = progress["bytes_done"] as? Int ?? 0
        let total = progress["bytes_total"] as? Int
        let input = job["input"] as? [String: Any] ?? [:]
        return [
            "\(job["id"] as? Int ?? 0)", job["state"] as? String ?? "",
            "\(job["attempt"] as? Int ?? 0)/\(job["max_attempts"] as? Int ?? 0)",
            total.map { $0 > 0 ? "\(done * 100 / $0)%" : "-" } ?? "\(done) B",
            input["url"] as? String ?? input["target"] as? String ?? job["created_at"] as? String ?? "",
        ]
    }
}

/// `ferry jobs retry|cancel|pause|resume ID`: one POST to `/api/jobs/{id}/{verb}`.
protocol JobCommandVerb: AsyncParsableCommand {
    static var verb: String { get }
    var options: ClientOptions { get }
    var id: Int { get }
}

extension JobCommandVerb {
    func run() async throws {
        let client = try options.client()
        let answer = try client.expectSuccess(try await client.post("/api/jobs/\(id)/\(Self.verb)"))
        if options.json { return print(answer.body) }
        print("job \(id): \(answer.object["state"] as? String ?? "?")")
    }
}

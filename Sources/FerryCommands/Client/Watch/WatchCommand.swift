import ArgumentParser
import Foundation

/// `ferry jobs watch [ID…]`: live progress until the jobs have ended.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Follow jobs live (bytes, rate, ETA, state) until they end.",
        discussion: """
            Without IDs, follows every download that is queued, running or paused now. On a terminal
            each job's line is redrawn in place; otherwise a line is printed when a job changes state
            and every 5 s while it runs. Ends with each job's result or error. Exits 0 when every job
            succeeded, 1 when one failed or was cancelled, 69 when the daemon is not there or stops
            answering.
            """)

    @OptionGroup var options: ClientOptions
    @Argument(help: "Job ids (default: every unfinished download).") var ids: [Int] = []

    func run() async throws {
        let client = try options.client()
        var ids = self.ids
        if ids.isEmpty {
            let answer = try client.expectSuccess(
                try await client.get("/api/downloads?state=queued&state=running&state=paused&limit=500"))
            ids = (answer.object["jobs"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }.sorted()
            guard !ids.isEmpty else { return print("no unfinished downloads to watch") }
        }
        try await JobWatch(client: client, ids: ids).run()
    }
}

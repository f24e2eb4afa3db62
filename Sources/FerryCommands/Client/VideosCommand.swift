import ArgumentParser
import Foundation

/// `ferry videos list|store`: generated videos kept by the running daemon.
struct VideosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "videos",
        abstract: "List a user's stored videos, or ask the daemon to store one.",
        subcommands: [List.self, Store.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A user's videos, newest first.")

        @OptionGroup var options: ClientOptions
        @Option(help: "The user.") var user: String
        @Option(help: "Only videos in this state: temporary, storing, stored or failed (repeatable).")
        var status: [String] = []
        @Option(help: "The page (from 1).") var page = 1
        @Option(help: "Videos per page (1–100).") var limit = 20

        func run() async throws {
            let client = try options.client()
            var query = ["user_id=\(Self.encode(user))", "page=\(page)", "limit=\(limit)"]
            query += status.map { "status=\(Self.encode($0))" }
            let answer = try client.expectSuccess(
                try await client.get("/api/user/videos?" + query.joined(separator: "&")))
            if options.json { return print(answer.body) }
            var table = TextTable(header: ["ID", "STATE", "REQUEST", "LOCATION"])
            for video in answer.object["videos"] as? [[String: Any]] ?? [] {
                let input = video["input"] as? [String: Any] ?? [:]
                let result = video["result"] as? [String: Any] ?? [:]
                table.rows.append([
                    "\(video["id"] as? Int ?? 0)", video["state"] as? String ?? "",
                    input["external_request_id"] as? String ?? "", result["location"] as? String ?? "-",
                ])
            }
            print(table.rows.isEmpty ? "no videos" : table.render())
            print("\(answer.object["total"] as? Int ?? 0) in all; page \(page)")
        }

        static func encode(_ text: String) -> String {
            text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
        }
    }

    struct Store: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Store a generated video from its temporary URL; the same user and request id return the existing job.")

        @OptionGroup var options: ClientOptions
        @Option(help: "The user the video belongs to.") var user: String
        @Option(help: "The caller's id of the generation request.") var requestID: String
        @Argument(help: "The video's temporary http or https URL.") var url: String

        func run() async throws {
            let client = try options.client()
            let answer = try client.expectSuccess(
                try await client.post(
                    "/api/videos", json: ["user_id": user, "external_request_id": requestID, "url": url]))
            if options.json { return print(answer.body) }
            let id = answer.object["id"] as? Int ?? 0
            print(answer.status == 201 ? "storing video \(id)" : "video \(id) already exists for this request")
        }
    }
}

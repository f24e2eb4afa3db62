import ArgumentParser
import Foundation

/// `ferry enqueue URL`: queue a download on the running daemon.
struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Queue a download on the running daemon.",
        discussion: "With --idempotency-key, running the same command again returns the existing job.")

    @OptionGroup var options: ClientOptions
    @Argument(help: "An http or https URL.") var url: String
    @Option(help: "Keep the file under this name.") var fileName: String?
    @Option(help: "Upload the file to this configured target when it is downloaded (repeatable).")
    var upload: [String] = []
    @Option(help: "The SHA-256 the content must have.") var sha256: String?
    @Option(help: "The size in bytes the content must have.") var size: Int?
    @Option(help: "Sending the same key again returns the existing job.") var idempotencyKey: String?

    func run() async throws {
        let client = try options.client()
        var body: [String: Any] = ["url": url]
        if let fileName { body["file_name"] = fileName }
        if !upload.isEmpty { body["upload_targets"] = upload }
        if let sha256 { body["sha256"] = sha256 }
        if let size { body["size"] = size }
        let answer = try client.expectSuccess(
            try await client.post(
                "/api/downloads", json: body, headers: idempotencyKey.map { [("Idempotency-Key", $0)] } ?? []))
        if options.json { return print(answer.body) }
        let id = answer.object["id"] as? Int ?? 0
        print(answer.status == 201 ? "queued download \(id)" : "download \(id) already exists (same idempotency key)")
    }
}

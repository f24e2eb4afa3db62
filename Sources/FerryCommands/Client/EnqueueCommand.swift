import ArgumentParser
import Foundation

/// `ferry enqueue URL`, `ferry enqueue FILE.torrent` or `ferry enqueue -i LIST`: queue downloads
/// on the running daemon.
struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Queue a download (or a list of them) on the running daemon.",
        discussion: """
            A local .torrent file (a path that exists and ends in .torrent) is sent with the request
            and fetched by the daemon's aria2. With --idempotency-key, running the same command again
            returns the existing job. With
            --input, every URL of the file (one per line; blank lines and lines starting with # are
            skipped; - reads standard input) is queued through POST /api/download-batches, 1,000
            per request, each batch all or nothing; the other options apply to every URL, and
            --idempotency-key K gives line N the key K:N.
            """)

    @OptionGroup var options: ClientOptions
    @Argument(
        help:
            "An http or https URL (ftp, sftp or magnet when downloads.allowed_schemes allows it), or a local .torrent file."
    ) var url: String?
    @Option(name: [.short, .customLong("input")], help: "A file of URLs, one per line (- for standard input).")
    var input: String?
    @Option(help: "Keep the file under this name.") var fileName: String?
    @Option(help: "Upload the file to this configured target when it is downloaded (repeatable).")
    var upload: [String] = []
    @Option(help: "The SHA-256 the content must have.") var sha256: String?
    @Option(help: "The size in bytes the content must have.") var size: Int?
    @Option(help: "Sending the same key again returns the existing job.") var idempotencyKey: String?
    @Option(help: "ferry or aria2: aria2 for an http(s) URL of a .torrent file or a metalink (default: by scheme).")
    var engine: String?
    @Flag(help: "Follow the download live until it ends; exit 0 if it succeeded, 1 if not.") var wait = false

    func validate() throws {
        guard (url == nil) != (input == nil) else { throw ValidationError("give either a URL or --input FILE") }
        if wait && options.json {
            throw ValidationError(
                "--wait draws progress for a person; leave out --json, or watch with `ferry jobs watch`")
        }
        if input != nil, fileName != nil || sha256 != nil || size != nil {
            throw ValidationError("--file-name, --sha256 and --size describe one file; they cannot go with --input")
        }
    }

    func run() async throws {
        if let input { return try await enqueueList(input) }
        let client = try options.client()
        var body = try torrentFields(url ?? "") ?? fields(url ?? "")
        if let fileName { body["file_name"] = fileName }
        if let sha256 { body["sha256"] = sha256 }
        if let size { body["size"] = size }
        let answer = try client.expectSuccess(
            try await client.post(
                "/api/downloads", json: body, headers: idempotencyKey.map { [("Idempotency-Key", $0)] } ?? []))
        if options.json { return print(answer.body) }
        let id = answer.object["id"] as? Int ?? 0
        print(answer.status == 201 ? "queued download \(id)" : "download \(id) already exists (same idempotency key)")
        if wait { try await JobWatch(client: client, ids: [id]).run() }
    }

    /// The body for a local `.torrent` file: its bytes in base64 (nil when `argument` is not one).
    private func torrentFields(_ argument: String) throws -> [String: Any]? {
        guard argument.lowercased().hasSuffix(".torrent"), !argument.contains("://"),
            FileManager.default.fileExists(atPath: argument)
        else { return nil }
        guard let data = FileManager.default.contents(atPath: argument) else {
            throw ValidationError("cannot read \(argument)")
        }
        var body = fields("")
        body["url"] = nil
        body["torrent"] = data.base64EncodedString()
        return body
    }

    private func fields(_ url: String) -> [String: Any] {
        var body: [String: Any] = ["url": url]
        if !upload.isEmpty { body["upload_targets"] = upload }
        if let engine { body["engine"] = engine }
        return body
    }

    private func enqueueList(_ path: String) async throws {
        let text: String
        do {
            text =
                path == "-"
                ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                : try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ValidationError("cannot read \(path): \(error.localizedDescription)")
        }
        var items: [[String: Any]] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let url = line.trimmingCharacters(in: .whitespaces)
            if url.isEmpty || url.hasPrefix("#") { continue }
            var item = fields(url)
            if let idempotencyKey { item["idempotency_key"] = "\(idempotencyKey):\(index + 1)" }
            items.append(item)
        }
        guard !items.isEmpty else { throw ValidationError("\(path) holds no URL") }
        let client = try options.client()
        var queued = 0
        var existing = 0
        var ids: [Int] = []
        for start in stride(from: 0, to: items.count, by: 1_000) {
            let batch = Array(items[start..<min(start + 1_000, items.count)])
            let answer: AdminAPIClient.Answer
            do {
                answer = try client.expectSuccess(
                    try await client.post("/api/download-batches", json: ["downloads": batch]))
            } catch {
                if queued + existing > 0 {
                    Terminal.error(
                        "the first \(queued + existing) URLs were queued; the batch from URL \(start + 1) on was not")
                }
                throw error
            }
            if options.json { print(answer.body) }
            ids += (answer.object["downloads"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }
            let created = answer.object["created"] as? Int ?? 0
            queued += created
            existing += batch.count - created
        }
        if !options.json {
            print("queued \(queued) downloads" + (existing > 0 ? "; \(existing) already existed (same keys)" : ""))
        }
        if wait { try await JobWatch(client: client, ids: ids).run() }
    }
}

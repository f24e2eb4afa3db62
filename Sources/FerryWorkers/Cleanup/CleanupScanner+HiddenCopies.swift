import FerryCore
import Foundation

/// An rclone delivery copies to a hidden name (`.<name>.ferry-partial`) and moves it into place.
/// A killed attempt whose request had already been sent whole (into its socket, or to a proxy)
/// can still be carried out by the remote after a later attempt delivered: the hidden copy then
/// appears beside the object when no attempt is left to see it (the chaos suite's rclone-fire
/// scenario met it behind a slow proxy). Each cleanup run removes those of recent deliveries.
extension CleanupScanner {
    /// How far back deliveries are looked at: a late request lands within seconds or minutes.
    static let hiddenCopyWindow: Duration = .seconds(24 * 3600)

    func removeHiddenCopies(
        store: any CleanupRecords, order: CleanupOrder, into report: inout CleanupReport
    ) async throws {
        let since = Int64(Date().timeIntervalSince1970 * 1000) - Self.hiddenCopyWindow.inMilliseconds
        for target in targets {
            guard let settings = target.rclone else { continue }
            let hidden = try await store.deliveries(to: [target.name], since: since).compactMap {
                Self.hiddenCopy(of: $0.location, remote: settings.remote)
            }
            guard !hidden.isEmpty else { continue }
            for path in await Self.delete(hidden, from: settings, dryRun: order.dryRun) {
                append("\(target.name):\(path)", to: &report.hiddenCopies)
            }
        }
    }

    /// The hidden copy's path under the remote for an object delivered at `location`, or nil when
    /// the location is not under the remote (a target whose remote changed since).
    static func hiddenCopy(of location: String, remote: String) -> String? {
        let prefix = remote.hasSuffix("/") || remote.hasSuffix(":") ? remote : remote + "/"
        guard location.hasPrefix(prefix), location.count > prefix.count else { return nil }
        return RcloneTarget.temporaryName(of: String(location.dropFirst(prefix.count)))
    }

    /// Deletes (or, in a dry run, would delete) whichever of `paths` exist on the remote, with one
    /// `rclone delete --files-from` (each file looked up by name, the remote not listed); returns
    /// those rclone said it deleted. A failed run deletes what it can and the next run tries again.
    static func delete(_ paths: [String], from settings: UploadTarget.Rclone, dryRun: Bool) async -> [String] {
        let list = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-hidden-\(UUID()).txt").path
        guard FileManager.default.createFile(atPath: list, contents: Data(paths.joined(separator: "\n").utf8)) else {
            return []
        }
        defer { unlink(list) }
        var arguments = [
            "delete", settings.remote, "--files-from", list, "--use-json-log", "-v", "--retries", "1",
            "--low-level-retries", "3",
        ]
        if dryRun { arguments.append("--dry-run") }
        if !settings.configFile.isEmpty { arguments += ["--config", settings.configFile] }
        let run = try? await RcloneTarget.run(settings.program, arguments) { _ in }
        return (run?.log ?? "").split(separator: "\n").compactMap { line in
            guard let entry = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let message = entry["msg"] as? String, let object = entry["object"] as? String,
                message == "Deleted" || message.hasPrefix("Skipped delete as --dry-run")
            else { return nil }
            return object
        }
    }
}

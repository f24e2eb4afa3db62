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
        let rclone = Dictionary(
            targets.compactMap { target in target.rclone.map { (target.name, $0) } },
            uniquingKeysWith: { first, _ in first })
        guard !rclone.isEmpty else { return }
        let since = Int64(Date().timeIntervalSince1970 * 1000) - Self.hiddenCopyWindow.inMilliseconds
        var hidden: [String: [String]] = [:]  // target -> hidden copies' paths under its remote
        for delivery in try await store.deliveries(to: Array(rclone.keys), since: since) {
            guard let settings = rclone[delivery.target],
                let path = Self.hiddenCopy(of: delivery.location, remote: settings.remote)
            else { continue }
            hidden[delivery.target, default: []].append(path)
        }
        for (target, paths) in hidden.sorted(by: { $0.key < $1.key }) {
            for path in await Self.delete(paths, from: rclone[target]!, dryRun: order.dryRun) {
                append("\(target):\(path)", to: &report.hiddenCopies)
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
        let arguments = [
            "delete", settings.remote, "--files-from", list, "--use-json-log", "-v", "--retries", "1",
            "--low-level-retries", "3",
        ]
        let run = try? await RcloneTarget.run(
            settings.program, settings.withConfig(dryRun ? arguments + ["--dry-run"] : arguments)
        ) { _ in }
        return (run?.log ?? "").split(separator: "\n").compactMap { line in
            guard let entry = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let message = entry["msg"] as? String, let object = entry["object"] as? String,
                message == "Deleted" || message.hasPrefix("Skipped delete as --dry-run")
            else { return nil }
            return object
        }
    }
}

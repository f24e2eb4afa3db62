import FerryCore
import Foundation
import Subprocess

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// An `rclone` target: any remote rclone knows (OneDrive, Google Drive, SFTP, …), by running
/// `rclone copyto` with checksum comparison, reading its JSON progress, mapping its exit status
/// to retryable or permanent, and checking the result with `rclone lsjson --hash`. The object's
/// path is fixed per download and target, so a second delivery replaces, never duplicates.
struct RcloneTarget {
    let settings: UploadTarget.Rclone

    func deliver(
        _ spec: UploadSpec, as objectName: String,
        report: @escaping @Sendable (JobProgress, String?) async -> Void
    ) async throws(JobFailure) -> JobResult {
        let remote = remote(objectName)
        // rclone writes some remotes in place (local folders, SFTP, …): a copy cut short would sit
        // at the final name. So the copy goes to a hidden name beside it, is checked there, and is
        // moved into place (a rename where the remote can, a server-side copy elsewhere).
        let temporary = self.remote(Self.temporaryName(of: objectName))
        // A retry after a lost report finds the copy in place. Where the move is a copy and a
        // delete (S3), a move cut short between the two also left the hidden copy: it goes now.
        if try await listed(remote, matches: spec, required: false) {
            _ = try? await Self.run(
                settings.program,
                settings.withConfig(["deletefile", temporary, "--retries", "1", "--low-level-retries", "3"])
            ) { _ in }
            await report(JobProgress(bytesDone: spec.sourceSize, bytesTotal: spec.sourceSize), nil)
            return JobResult(location: remote, size: spec.sourceSize, sha256: spec.sourceSHA256)
        }
        try await transfer("copyto", spec, to: temporary, report: report)
        _ = try await listed(temporary, matches: spec, required: true)
        let moved = try await Self.run(
            settings.program,
            settings.withConfig(["moveto", temporary, remote, "--retries", "1", "--low-level-retries", "3"])
        ) { _ in }
        guard moved.status == 0 else { throw Self.failure(status: moved.status, log: moved.log) }
        _ = try await listed(remote, matches: spec, required: true)
        await report(JobProgress(bytesDone: spec.sourceSize, bytesTotal: spec.sourceSize), nil)
        return JobResult(location: remote, size: spec.sourceSize, sha256: spec.sourceSHA256)
    }

    /// `.<name>.ferry-partial` in the object's folder: where a copy is made before it is moved into place.
    static func temporaryName(of objectName: String) -> String {
        guard let slash = objectName.lastIndex(of: "/") else { return ".\(objectName).ferry-partial" }
        return "\(objectName[...slash]).\(objectName[objectName.index(after: slash)...]).ferry-partial"
    }

    /// Whether `remote` holds the upload's bytes, as rclone lists it: the size always, SHA-256
    /// where the remote has it. A mismatch (or, when `required`, nothing there) fails the attempt.
    private func listed(_ remote: String, matches spec: UploadSpec, required: Bool) async throws(JobFailure) -> Bool {
        let listed = try await Self.run(
            settings.program, settings.withConfig(["lsjson", "--hash", "--hash-type", "sha256", remote])
        ) { _ in }
        guard listed.status == 0,
            let entries = try? JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]],
            let entry = entries.first
        else {
            guard required else { return false }
            throw .retryable("verification_failed", "rclone could not list \(remote) after the upload")
        }
        let size = (entry["Size"] as? Int64) ?? (entry["Size"] as? Int).map(Int64.init) ?? -1
        let hash = (entry["Hashes"] as? [String: String])?["sha256"]
        guard size == spec.sourceSize, hash == nil || hash == spec.sourceSHA256 else {
            guard required else { return false }
            throw .retryable(
                "verification_failed",
                "\(remote) has \(size) bytes and SHA-256 \(hash ?? "unknown"); the download has \(spec.sourceSize) and \(spec.sourceSHA256)"
            )
        }
        return true
    }

    /// A folder result (a torrent of several files), delivered as the folder `<remote>/<objectName>`
    /// with `rclone sync` (so an earlier partial copy loses what is not in the download), then
    /// checked file by file against the folder's manifest with `rclone lsjson -R --hash`: the same
    /// paths, the same sizes, and the same SHA-256 where the remote has one.
    func deliverFolder(
        _ spec: UploadSpec, as objectName: String,
        report: @escaping @Sendable (JobProgress, String?) async -> Void
    ) async throws(JobFailure) -> JobResult {
        let manifest = try FolderManifest.of(spec)
        let remote = remote(objectName)
        try await transfer("sync", spec, to: remote, report: report)
        let listed = try await Self.run(
            settings.program,
            settings.withConfig(["lsjson", "-R", "--files-only", "--hash", "--hash-type", "sha256", remote])
        ) { _ in }
        guard listed.status == 0,
            let entries = try? JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]]
        else { throw .retryable("verification_failed", "rclone could not list \(remote) after the upload") }
        var found: [String: (size: Int64, sha256: String?)] = [:]
        for entry in entries {
            guard let path = entry["Path"] as? String else { continue }
            let size = (entry["Size"] as? Int64) ?? (entry["Size"] as? Int).map(Int64.init) ?? -1
            found[path] = (size, (entry["Hashes"] as? [String: String])?["sha256"])
        }
        let wrong = manifest.entries.filter { file in
            guard let copy = found[file.path] else { return true }
            return copy.size != file.size || (copy.sha256 != nil && copy.sha256 != file.sha256)
        }
        guard wrong.isEmpty, found.count == manifest.entries.count else {
            throw .retryable(
                "verification_failed",
                "\(remote) does not hold the folder as downloaded: \(wrong.count) of \(manifest.entries.count) files missing or different, \(found.count) files listed"
            )
        }
        await report(JobProgress(bytesDone: manifest.size, bytesTotal: manifest.size), nil)
        return JobResult(location: remote, size: manifest.size, sha256: manifest.sha256)
    }

    /// Where `objectName` goes on the remote.
    private func remote(_ objectName: String) -> String {
        settings.remote.hasSuffix("/") || settings.remote.hasSuffix(":")
            ? settings.remote + objectName : settings.remote + "/" + objectName
    }

    /// Runs `rclone <verb> <source> <remote>` (copyto for a file, sync for a folder) comparing
    /// checksums, reporting its JSON progress; a failed run is classed by its exit status.
    private func transfer(
        _ verb: String, _ spec: UploadSpec, to remote: String,
        report: @escaping @Sendable (JobProgress, String?) async -> Void
    ) async throws(JobFailure) {
        let arguments = settings.withConfig([
            verb, spec.sourcePath, remote, "--checksum", "--use-json-log", "--stats", "1s", "--stats-log-level",
            "NOTICE", "--log-level", "NOTICE", "--retries", "1", "--low-level-retries", "3",
        ])
        let run = try await Self.run(settings.program, arguments) { line in
            // {"stats": {"bytes": …, "totalBytes": …}} once a second.
            guard let bytes = Self.stats(in: line)?["bytes"] as? Int64 else { return }
            await report(JobProgress(bytesDone: bytes, bytesTotal: spec.sourceSize), nil)
        }
        guard run.status == 0 else { throw Self.failure(status: run.status, log: run.log) }
    }

    /// rclone's exit statuses (see `rclone help flags`, "Exit Code"): usage errors, missing
    /// files and fatal errors cannot be cured by trying again; the rest can. Status 1 is also
    /// rclone's default for any error it did not class (an S3 500 on the last try exits 1), so
    /// a run whose last stats say "retrying may help" and nothing fatal is retryable.
    static func failure(status: Int32, log: String) -> JobFailure {
        let last = log.split(separator: "\n").suffix(3).joined(separator: " | ")
        let message = "rclone exited with status \(status): \(last.isEmpty ? "no message" : last)"
        switch status {
        case 1 where lastStatsSayRetry(log): return .retryable("rclone_1", message)
        case 1, 4, 7: return .permanent("rclone_\(status)", message)
        case 127: return .permanent("rclone_missing", "rclone is not installed or not at the configured program path")
        default: return .retryable("rclone_\(status)", message)
        }
    }

    /// Whether the last `{"stats": …}` line of rclone's JSON log marks its errors retryable
    /// (`retryError`) and none fatal (`fatalError`).
    static func lastStatsSayRetry(_ log: String) -> Bool {
        guard let stats = log.split(separator: "\n").reversed().lazy.compactMap({ stats(in: $0) }).first else {
            return false
        }
        return stats["retryError"] as? Bool == true && stats["fatalError"] as? Bool != true
    }

    /// The `stats` object of one line of rclone's JSON log, if it has one.
    static func stats(in line: some StringProtocol) -> [String: Any]? {
        let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        return object?["stats"] as? [String: Any]
    }

    struct Run {
        var status: Int32
        var output: String
        var log: String
    }

    /// Runs rclone, handing each standard-error line (its JSON log) to `onLog`; a cancelled task
    /// stops the child.
    static func run(
        _ program: String, _ arguments: [String], onLog: @escaping @Sendable (String) async -> Void
    ) async throws(JobFailure) -> Run {
        let executable: Executable = program.contains("/") ? .path(FilePath(program)) : .name(program)
        let configuration = Configuration(executable: executable, arguments: Arguments(arguments))
        do {
            let result = try await Subprocess.run(
                configuration, input: .none, output: .sequence, error: .sequence
            ) { execution in
                async let standardOutput: String = {
                    var bytes: [UInt8] = []
                    for try await chunk in execution.standardOutput { chunk.withUnsafeBytes { bytes += $0 } }
                    return String(decoding: bytes, as: UTF8.self)
                }()
                var log = ""
                var pending: [UInt8] = []
                for try await chunk in execution.standardError {
                    if Task.isCancelled { try? execution.send(signal: .terminate) }
                    chunk.withUnsafeBytes { pending += $0 }
                    while let newline = pending.firstIndex(of: 10) {
                        let line = String(decoding: pending[..<newline], as: UTF8.self)
                        pending.removeSubrange(...newline)
                        log += line + "\n"
                        await onLog(line)
                    }
                }
                return (try await standardOutput, log)
            }
            let status: Int32 =
                switch result.terminationStatus {
                case .exited(let code): code
                case .signaled(let signal): 128 + signal
                }
            return Run(status: status, output: result.closureResult.0, log: result.closureResult.1)
        } catch {
            throw .permanent("rclone_missing", "cannot run \(program): \(error)")
        }
    }
}

extension UploadTarget.Rclone {
    /// `arguments` with this target's rclone configuration file, when it names one.
    func withConfig(_ arguments: [String]) -> [String] {
        configFile.isEmpty ? arguments : arguments + ["--config", configFile]
    }
}

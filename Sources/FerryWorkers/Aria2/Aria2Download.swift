import FerryCore
import Foundation

/// A download that aria2 fetches (ftp, sftp, magnet), run like any other: aria2 writes into the
/// job's own work folder in the spool (kept across attempts, so a retry resumes), and only when its
/// task has finished is the result verified — every file at its announced size (BitTorrent pieces
/// were checked by aria2), the expected size and SHA-256 if the job names them — fsynced and
/// renamed into `<state_dir>/downloads/<id>/`. A torrent of several files becomes one folder.
struct Aria2Download: Sendable {
    let engine: Aria2Engine
    let stateDirectory: String
    let settings: DownloadSettings

    func execute(
        _ assignment: SupervisorMessage.Assignment, _ spec: DownloadSpec,
        report: @escaping @Sendable (JobProgress, String?) async -> Void
    ) async throws(JobFailure) -> JobResult {
        let source = try Aria2Source.check(spec.url, allowed: settings.allowedSchemes, stateDirectory: stateDirectory)
        let jobID = assignment.lease.jobID
        let folder = "\(stateDirectory)/downloads/\(jobID)"
        let work = "\(stateDirectory)/spool/job-\(jobID)-aria2"
        for path in [folder, work] { try Folders.ensureForJob(path) }
        let lock = try await JobFolderLock.acquire(folder)
        defer { withExtendedLifetime(lock) {} }
        var order = Aria2Order(
            jobID: jobID, uri: source.uri, folder: work, fileName: source.fileName(requested: spec.fileName),
            infoHash: source.infoHash,
            maxSize: settings.maxSize, torrent: source.torrent)
        order.seeds = settings.aria2.seedRatio > 0 || settings.aria2.seedTime > .zero
        let task: Aria2Task
        do {
            task = try await engine.download(order, report: report)
        } catch let failure where failure.code == "resume_refused" {
            // What aria2 holds cannot be resumed from this server: the next attempt starts afresh.
            try? FileManager.default.removeItem(atPath: work)
            throw failure
        }
        guard !Task.isCancelled else { throw .retryable("cancelled", "the attempt was stopped") }
        if let failure = Self.unreadableDescription(task, order: order) { throw failure }
        let files = try Self.finishedFiles(of: task, in: work)
        // A torrent aria2 goes on seeding keeps its files in the work folder: the result is made
        // of hard links to them (same bytes, no copy), and the engine removes the folder once the
        // seeding ends.
        let seeding = order.seeds && task.isSeeding
        let result: JobResult
        if files.count == 1, let file = files.first, !file.relative.contains("/") {
            result = try publishFile(
                file.path, as: "\(folder)/\(FileNames.sanitized(spec.fileName) ?? file.relative)", byLink: seeding)
        } else {
            result = try publishFolder(
                files, from: work, into: folder, name: task.bittorrent?.info?.name, byLink: seeding)
        }
        if let problem = DownloadExecutor.contentProblem(spec, size: result.size, sha256: result.sha256) {
            try? FileManager.default.removeItem(atPath: result.location)
            throw problem
        }
        if !seeding { try? FileManager.default.removeItem(atPath: work) }
        return result
    }

    /// A `.torrent` file or metalink that aria2 fetched (into memory) but could not read: its task
    /// ends "complete" with nothing to follow and no file on disk.
    static func unreadableDescription(_ task: Aria2Task, order: Aria2Order) -> JobFailure? {
        guard task.gid == order.gid, (task.followedBy ?? []).isEmpty, let file = task.files?.first,
            task.files?.count == 1, !FileManager.default.fileExists(atPath: file.path)
        else { return nil }
        let name = file.path.lowercased()
        if name.hasSuffix(".torrent") {
            return .permanent(
                "bad_torrent",
                "\(order.uri) is not a .torrent file aria2 accepts (malformed, or naming a file outside its folder)")
        }
        if name.hasSuffix(".meta4") || name.hasSuffix(".metalink") {
            return .permanent("bad_metalink", "\(order.uri) is not a valid metalink: check the URL")
        }
        return nil
    }

    /// The task's files, each checked to be whole and inside the work folder.
    static func finishedFiles(
        of task: Aria2Task, in work: String
    ) throws(JobFailure) -> [(path: String, relative: String)] {
        let root = URL(fileURLWithPath: work).standardizedFileURL.path + "/"
        var files: [(String, String)] = []
        for file in task.files ?? [] where file.selected != "false" {
            let path = URL(fileURLWithPath: file.path).standardizedFileURL.path
            guard path.hasPrefix(root) else {
                throw .permanent("unsafe_path", "the download names a file outside its folder (\(file.path))")
            }
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
            guard let size, size == Int64(file.length) else {
                throw .retryable(
                    "size_mismatch", "aria2 finished \(file.path) but it has \(size ?? 0) bytes, not \(file.length)")
            }
            files.append((path, String(path.dropFirst(root.count))))
        }
        guard !files.isEmpty else { throw .retryable("no_files", "aria2 finished the download without any file") }
        return files
    }

    /// Moves one finished file into the job's folder (or, `byLink`, hard-links it there).
    private func publishFile(_ path: String, as final: String, byLink: Bool) throws(JobFailure) -> JobResult {
        let (size, sha256) = try FileHashing.sizeAndSHA256(of: path)
        try Self.sync(path)
        if byLink {
            unlink(final)
            guard link(path, final) == 0 else { throw SpoolFile.failure("link", final) }
        } else {
            guard rename(path, final) == 0 else { throw SpoolFile.failure("rename", final) }
        }
        try FolderSync.sync((final as NSString).deletingLastPathComponent)
        return JobResult(location: final, size: size, sha256: sha256)
    }

    /// Moves a torrent's files, as one folder, into the job's folder. The result's SHA-256 is that
    /// of the folder's manifest (`FolderManifest`: one line per file, paths relative to the folder).
    private func publishFolder(
        _ files: [(path: String, relative: String)], from work: String, into folder: String, name: String?,
        byLink: Bool
    ) throws(JobFailure) -> JobResult {
        // aria2 puts a multi-file torrent under its name; that folder (or the whole work folder
        // when the files are loose) becomes the result.
        let top = files.first.map { String($0.relative.split(separator: "/").first ?? "") } ?? ""
        let sharesTop = !top.isEmpty && files.allSatisfy { $0.relative.hasPrefix(top + "/") }
        var entries: [FolderManifest.Entry] = []
        for file in files {
            let (size, sha256) = try FileHashing.sizeAndSHA256(of: file.path)
            try Self.sync(file.path)
            let inside = sharesTop ? String(file.relative.dropFirst(top.count + 1)) : file.relative
            entries.append(FolderManifest.Entry(path: inside, size: size, sha256: sha256))
        }
        let source = sharesTop ? "\(work)/\(top)" : work
        let final = "\(folder)/\(FileNames.sanitized(sharesTop ? top : name) ?? "download")"
        if byLink {
            // Built beside, then renamed into place: the folder appears whole.
            let building = "\(final).ferry-building"
            try? FileManager.default.removeItem(atPath: building)
            for entry in entries {
                let target = "\(building)/\(entry.path)"
                try? FileManager.default.createDirectory(
                    atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                guard link("\(source)/\(entry.path)", target) == 0 else {
                    throw SpoolFile.failure("link", target)
                }
            }
            try? FileManager.default.removeItem(atPath: final)
            guard rename(building, final) == 0 else { throw SpoolFile.failure("rename", final) }
        } else {
            guard rename(source, final) == 0 else { throw SpoolFile.failure("rename", final) }
        }
        try FolderSync.sync(folder)
        let manifest = FolderManifest(entries)
        return JobResult(location: final, size: manifest.size, sha256: manifest.sha256)
    }

    private static func sync(_ path: String) throws(JobFailure) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw SpoolFile.failure("open", path) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw SpoolFile.failure("fsync", path) }
    }
}

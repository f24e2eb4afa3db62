import AsyncHTTPClient
import FerryCore
import FerryPostgres
import FerryStore
import Foundation

/// The cleanup worker's scan: compares the managed folders with the records (read-only) and acts
/// on files only — stale partial files are removed, files with no record moved to quarantine,
/// multipart uploads that finished jobs left on their servers aborted, hidden copies left beside
/// rclone deliveries removed — while every change to a record is left to the supervisor, from the
/// findings returned.
struct CleanupScanner {
    let stateDirectory: String
    let targets: [UploadTarget]
    /// Each list in the report keeps at most this many entries.
    static let listLimit = 500

    func run(_ order: CleanupOrder) async -> CleanupFindings {
        var report = CleanupReport()
        do {
            let (store, close) = try await Self.open(order.database)
            defer { close() }
            let records = try await store.fileRecords()
            let here = records.filter(\.isHere)
            report.scannedRecords = here.count
            checkRecords(here, order: order, into: &report)
            // Another node's file is not an orphan here, nor a copy of it in this node's folder: its
            // record is that node's to reconcile.
            let known = Set(records.map(\.path))
            let elsewhere = Set(records.filter { !$0.isHere }.map(\.jobID))
            try await scanResults(known: known, elsewhere: elsewhere, store: store, order: order, into: &report)
            try await scanSpool(store: store, order: order, into: &report)
            try await abortAbandonedUploads(store: store, order: order, into: &report)
            try await removeHiddenCopies(store: store, order: order, into: &report)
        } catch {
            return CleanupFindings(runID: order.runID, report: report, error: "\(error)")
        }
        return CleanupFindings(runID: order.runID, report: report)
    }

    /// Opens the store the order names, read-only (on PostgreSQL as this node, one connection,
    /// so the records are those of this node's files), and how to close it.
    static func open(
        _ database: CleanupDatabase
    ) async throws(StoreError) -> (store: any CleanupRecords, close: @Sendable () -> Void) {
        switch database {
        case .sqlite(let path):
            return (try SQLiteJobStore.open(StoreConfiguration(path: path, readOnly: true)), {})
        case .postgres(let access):
            var configuration = try PostgresStoreConfiguration(access: access)
            var node = NodeIdentity(name: access.node, lease: access.lease)
            node.id = access.node
            configuration.node = node
            // A scan of many records reads for longer than one queue call may take.
            configuration.callTimeout = .seconds(600)
            let store = try await PostgresJobStore.open(configuration)
            return (store, { store.close() })
        }
    }

    /// Every record's file must exist with its size (and, when asked, its SHA-256).
    private func checkRecords(
        _ records: [FileRecord], order: CleanupOrder, into report: inout CleanupReport
    ) {
        for record in records {
            let problem: DamagedRecord.Problem?
            if FolderManifest.isFolder(record.path) {
                // A folder result (a torrent of several files): its size is its files' total, its
                // SHA-256 that of its manifest.
                let files = (try? FolderManifest.files(in: record.path)) ?? []
                let size = files.reduce(Int64(0)) { $0 + (Self.size(of: "\(record.path)/\($1)") ?? 0) }
                if size != record.size {
                    problem = .wrongSize
                } else if order.verifyHashes, (try? FolderManifest.of(record.path))?.sha256 != record.sha256 {
                    problem = .wrongHash
                } else {
                    problem = nil
                }
            } else if let size = Self.size(of: record.path) {
                if size != record.size {
                    problem = .wrongSize
                } else if order.verifyHashes, (try? FileHashing.sizeAndSHA256(of: record.path))?.sha256 != record.sha256
                {
                    problem = .wrongHash
                } else {
                    problem = nil
                }
            } else {
                problem = .missing
            }
            guard let problem else { continue }
            append(
                DamagedRecord(
                    jobID: record.jobID.rawValue, kind: record.kind, path: record.path, problem: problem,
                    action: "refetch"),
                to: &report.damagedRecords)
        }
    }

    /// Files in the download and video folders that no record points at.
    private func scanResults(
        known: Set<String>, elsewhere: Set<JobID>, store: any CleanupRecords, order: CleanupOrder,
        into report: inout CleanupReport
    ) async throws {
        var candidates: [(path: String, relative: String, jobID: JobID?)] = []
        let downloads = stateDirectory + "/downloads"
        for entry in Self.files(under: downloads) {
            let parts = entry.split(separator: "/")
            // A file of a folder result (a torrent of several files): the folder is the record's.
            if parts.count > 2, Int64(parts[0]) != nil, known.contains("\(downloads)/\(parts[0])/\(parts[1])") {
                continue
            }
            // downloads/<job id>/<name>
            guard parts.count == 2, let id = Int64(parts[0]) else {
                append("downloads/\(entry)", to: &report.uninterpretable)
                continue
            }
            candidates.append(("\(downloads)/\(entry)", "downloads/\(entry)", JobID(id)))
        }
        let videos = stateDirectory + "/videos"
        for entry in Self.files(under: videos) {
            let parts = entry.split(separator: "/").map(String.init)
            if parts.first == "incoming" { continue }
            // videos/<aa>/<bb>/<sha256>
            guard parts.count == 3, parts[2].count == 64, parts[2].allSatisfy(\.isHexDigit),
                parts[0] == String(parts[2].prefix(2)), parts[1] == String(parts[2].dropFirst(2).prefix(2))
            else {
                append("videos/\(entry)", to: &report.uninterpretable)
                continue
            }
            candidates.append(("\(videos)/\(entry)", "videos/\(entry)", nil))
        }
        report.scannedFiles += candidates.count
        let unknown = candidates.filter {
            !known.contains($0.path) && !($0.jobID.map(elsewhere.contains) ?? false) && isSettled($0.path, order)
        }
        let states = try await store.states(of: unknown.compactMap(\.jobID))
        // A job whose outcome was committed after the records were read, and before its state
        // was, is no longer running but has a record now: read the records again before calling
        // any file an orphan (found by the chaos suite's cluster scenario: a completion held back
        // by a database restart committed while a run scanned, and its file was quarantined).
        var known = known
        if unknown.contains(where: { file in file.jobID.flatMap { states[$0] }?.phase != .running }) {
            known = Set(try await store.fileRecords().map(\.path))
        }
        let removed = try await store.deliveredAndRemoved(unknown.compactMap(\.jobID))
        for file in unknown where !known.contains(file.path) {
            // A download still being worked on may be publishing right now.
            if let id = file.jobID, let state = states[id], state.phase == .running { continue }
            let size = Self.size(of: file.path) ?? 0
            // Its records say it was delivered everywhere and removed: finish what a supervisor that
            // died in between began, whatever cleanup.orphans says (adopting it would bring it back).
            if let id = file.jobID, removed.contains(id) {
                var action = "would_remove"
                if !order.dryRun {
                    action = unlink(file.path) == 0 || errno == ENOENT ? "removed" : "reported"
                    rmdir((file.path as NSString).deletingLastPathComponent)
                }
                append(OrphanFile(path: file.path, size: size, action: action), to: &report.orphanFiles)
                continue
            }
            switch order.orphans {
            case .adopt where file.relative.hasPrefix("downloads/"):
                // The supervisor adopts it (the records are its); the hash is read here, off its loop.
                // What does not fit in this run's report waits for the next run.
                guard report.orphanFiles.count < Self.listLimit,
                    let hashed = try? FileHashing.sizeAndSHA256(of: file.path)
                else { continue }
                append(
                    OrphanFile(path: file.path, size: hashed.size, action: "adoptable", sha256: hashed.sha256),
                    to: &report.orphanFiles)
            case .quarantine, .adopt:
                let action =
                    order.dryRun
                    ? "would_quarantine"
                    : quarantine(file.path, relative: file.relative) ? "quarantined" : "reported"
                append(OrphanFile(path: file.path, size: size, action: action), to: &report.orphanFiles)
            case .report:
                append(OrphanFile(path: file.path, size: size, action: "reported"), to: &report.orphanFiles)
            }
        }
    }

    /// Partial files (and aria2's work folders, `job-<id>-aria2`) of jobs that are finished, gone,
    /// or waiting longer than the partial age.
    private func scanSpool(
        store: any CleanupRecords, order: CleanupOrder, into report: inout CleanupReport
    ) async throws {
        let spool = stateDirectory + "/spool"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: spool)) ?? []
        var partials: [(name: String, id: JobID)] = []
        for name in names {
            let prefix = "job-"
            guard name.hasPrefix(prefix), name.hasSuffix(".part") || name.hasSuffix("-aria2"),
                let id = name.dropFirst(prefix.count).split(separator: "-").first.flatMap({ Int64($0) })
            else {
                append("spool/\(name)", to: &report.uninterpretable)
                continue
            }
            partials.append((name, JobID(id)))
        }
        report.scannedFiles += partials.count
        let states = try await store.states(of: partials.map(\.id))
        for partial in partials {
            let path = "\(spool)/\(partial.name)"
            let stale: Bool
            switch states[partial.id]?.phase {
            case .running: stale = false
            case .waiting, .paused: stale = Self.age(of: path).map { $0 > order.partialMaxAge } ?? false
            case nil, .succeeded, .failed, .cancelled, .archived: stale = isSettled(path, order)
            }
            guard stale, !Self.isSeeding(path) else { continue }
            if !order.dryRun {
                if partial.name.hasSuffix("-aria2") {
                    try? FileManager.default.removeItem(atPath: path)
                } else {
                    unlink(path)
                }
            }
            append(path, to: &report.stalePartials)
        }
    }

    /// Multipart uploads left on an S3 target by upload jobs that ended for good: aborted, so the
    /// server drops their parts; the supervisor then forgets the jobs' resume state.
    private func abortAbandonedUploads(
        store: any CleanupRecords, order: CleanupOrder, into report: inout CleanupReport
    ) async throws {
        let abandoned = try await store.abandonedUploads()
        let s3Targets = Dictionary(
            targets.compactMap { target in target.s3.map { (target.name, $0) } },
            uniquingKeysWith: { first, _ in first })
        let candidates = abandoned.filter { s3Targets[$0.target] != nil && $0.resumeState.contains("uploadID") }
        guard !candidates.isEmpty else { return }
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(timeout: .init(connect: .seconds(10), read: .seconds(60))))
        for upload in candidates {
            guard let settings = s3Targets[upload.target] else { continue }
            let target = S3Target(settings: settings, client: client)
            let uploadID = S3Target.ResumeState(json: upload.resumeState)?.uploadID ?? ""
            let action = order.dryRun ? "would_abort" : await target.abortAbandoned(resumeState: upload.resumeState)
            append(
                AbandonedUpload(jobID: upload.job.rawValue, target: upload.target, uploadID: uploadID, action: action),
                to: &report.abandonedUploads)
        }
        try? await client.shutdown()
    }

    /// Moves a file to `<state>/quarantine/<relative>` (never over another file).
    private func quarantine(_ path: String, relative: String) -> Bool {
        var destination = "\(stateDirectory)/quarantine/\(relative)"
        try? FileManager.default.createDirectory(
            atPath: (destination as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var suffix = 1
        while FileManager.default.fileExists(atPath: destination) {
            destination = "\(stateDirectory)/quarantine/\(relative).\(suffix)"
            suffix += 1
        }
        return rename(path, destination) == 0
    }

    private func isSettled(_ path: String, _ order: CleanupOrder) -> Bool {
        Self.age(of: path).map { $0 >= order.settleTime } ?? false
    }

    func append<Element>(_ element: Element, to list: inout [Element]) {
        if list.count < Self.listLimit { list.append(element) }
    }

    /// Regular files under `folder`, as paths relative to it.
    static func files(under folder: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return [] }
        var files: [String] = []
        while let entry = walker.nextObject() as? String {
            if walker.fileAttributes?[.type] as? FileAttributeType == .typeRegular { files.append(entry) }
        }
        return files.sorted()
    }

    /// An aria2 work folder whose finished torrent its worker's aria2c still seeds: the engine
    /// touches its marker every reconcile round, so one untouched for a minute is seeded no more.
    static func isSeeding(_ folder: String) -> Bool {
        age(of: "\(folder)/\(Aria2Engine.seedingMarker)").map { $0 < .seconds(60) } ?? false
    }

    static func size(of path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(info.st_size)
    }

    static func age(of path: String) -> Duration? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        let modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
        return .milliseconds(Int64((Date().timeIntervalSince1970 - modified) * 1000))
    }
}

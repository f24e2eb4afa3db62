import AsyncHTTPClient
import FerryCore
import Foundation

/// The download worker's aria2: started on the first job that needs it, restarted with backoff
/// when it dies, and kept in line with the worker's jobs. aria2 is never trusted to remember: on
/// every start and every `reconcileInterval` the engine lists all of aria2's tasks, re-adds what a
/// job still needs (aria2 resumes from the files), re-links a magnet's torrent by info hash,
/// removes every task no job owns, reports progress, and hands finished or failed tasks back to
/// the jobs waiting on them.
actor Aria2Engine {
    typealias Report = @Sendable (JobProgress, String?) async -> Void

    private struct Registration {
        var order: Aria2Order
        var report: Report
        var waiter: CheckedContinuation<Aria2Task, any Error>
        /// The torrent the task turned into, and its info hash, as learned so far.
        var link: Aria2Reconciliation.Link
        var lastProgress: JobProgress?
        /// Tells this attempt's registration from a later one of the same job.
        var token: UInt64
    }

    let downloads: DownloadSettings
    /// aria2's session file, which it loads when it restarts.
    let session: String
    private let client: HTTPClient
    private var process: Aria2Process?
    private var rpc: Aria2RPC?
    private var registrations: [JobID: Registration] = [:]
    /// Work folders of finished jobs whose torrent aria2 goes on seeding (`aria2.seed_ratio` /
    /// `aria2.seed_time`): their tasks are kept until the seeding ends, then removed with the folder.
    private var seeding: Set<String> = []
    private var nextToken: UInt64 = 0
    private var loop: Task<Void, Never>?
    /// Restarts in a row that did not last; the backoff grows with them.
    private var failedStarts = 0
    private var startedAt = ContinuousClock.now
    private var nextStart = ContinuousClock.now
    /// Rounds in a row in which a running aria2c did not answer.
    private var unansweredRounds = 0
    /// How many times aria2c was started (tests count its restarts).
    private(set) var starts = 0

    init(downloads: DownloadSettings, session: String, client: HTTPClient) {
        self.downloads = downloads
        self.session = session
        self.client = client
    }

    /// This worker's aria2 session file, `<state_dir>/aria2/session-<pid>` (aria2c's log beside it,
    /// `.log`); the files of workers that are gone are removed (their jobs were requeued and are re-added from their files).
    static func sessionFile(stateDirectory: String) -> String {
        let folder = stateDirectory + "/aria2"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
            // session-<pid>, with its .log (and, briefly, .conf).
            let digits = name.dropFirst("session-".count).prefix { $0.isNumber }
            guard name.hasPrefix("session-"), let pid = Int32(digits) else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { try? FileManager.default.removeItem(atPath: "\(folder)/\(name)") }
        }
        return "\(folder)/session-\(getpid())"
    }

    /// The RPC of the running aria2c, if any (for tests that look at what aria2 holds).
    var currentRPC: Aria2RPC? { process?.isRunning == true ? rpc : nil }

    /// The pid of the running aria2c, if any (for tests that kill it).
    var pid: Int32? { process?.isRunning == true ? process?.pid : nil }

    /// Runs `order` in aria2 until its task has finished (and returns it as aria2 last reported
    /// it) or failed; a cancelled caller's task is removed from aria2, its files kept.
    func download(_ order: Aria2Order, report: @escaping Report) async throws(JobFailure) -> Aria2Task {
        // A stopped task of an earlier attempt under the same GID would pass for this one's ending.
        if let rpc { _ = try? await rpc.call("removeDownloadResult", [.text(order.gid)], as: String.self) }
        // A job fetched again (a refetch) takes its folder back from the seeding it was left to.
        seeding.remove(Self.standardized(order.folder))
        // The job's record names its task before aria2 is asked to add it.
        await report(JobProgress(), Aria2ResumeState(order: order).json)
        nextToken += 1
        let token = nextToken
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { waiter in
                    guard !Task.isCancelled else { return waiter.resume(throwing: CancellationError()) }
                    // An earlier attempt of the same job that is still registered has been given up on.
                    registrations[order.jobID]?.waiter.resume(throwing: CancellationError())
                    registrations[order.jobID] = Registration(
                        order: order, report: report, waiter: waiter, link: .init(infoHash: order.infoHash),
                        lastProgress: nil,
                        token: token)
                    startLoop()
                }
            } onCancel: {
                Task { await self.cancel(order.jobID, token: token) }
            }
        } catch let failure as JobFailure {
            throw failure
        } catch {
            throw .retryable("cancelled", "the attempt was stopped")
        }
    }

    /// Stops aria2c; its session file keeps what it had.
    func shutdown() {
        loop?.cancel()
        loop = nil
        process?.stop()
        process = nil
        for registration in registrations.values {
            registration.waiter.resume(throwing: JobFailure.retryable("shutdown", "the worker is stopping"))
        }
        registrations = [:]
    }

    private func startLoop() {
        guard loop == nil else { return }
        // Weak: an engine nobody holds any more ends, and its aria2c with it.
        loop = Task { [weak self] in
            while !Task.isCancelled {
                guard let self else { return }
                await self.reconcile()
                try? await Task.sleep(for: self.downloads.aria2.reconcileInterval)
            }
        }
    }

    private func cancel(_ jobID: JobID, token: UInt64) async {
        guard registrations[jobID]?.token == token, let registration = registrations.removeValue(forKey: jobID) else {
            return
        }
        registration.waiter.resume(throwing: CancellationError())
        await removeTasks(of: registration, among: [])
    }

    /// One comparison of the jobs with aria2's tasks, and every repair it calls for.
    private func reconcile() async {
        guard let rpc = await runningRPC() else { return }
        let tasks: [Aria2Task]
        do {
            tasks = try await rpc.allTasks()
            unansweredRounds = 0
        } catch {
            // aria2 died (the next round restarts it, with backoff, and re-adds every task) or
            // hangs: one that stays silent is killed, to be restarted the same way.
            unansweredRounds += 1
            if unansweredRounds >= Self.unansweredRoundsBeforeKill {
                WorkerRuntime.log("aria2c stopped answering its RPC; killing it")
                process?.stop()
                unansweredRounds = 0
            }
            return
        }
        for jobID in Array(registrations.keys) {
            await repair(jobID, tasks: tasks, rpc: rpc)
        }
        await removeUnowned(tasks, rpc: rpc)
    }

    /// Brings one job's task in line: added again if aria2 lost it, followed to its torrent,
    /// checked against the limits, its progress reported, its ending handed back.
    private func repair(_ jobID: JobID, tasks: [Aria2Task], rpc: Aria2RPC) async {
        guard var registration = registrations[jobID] else { return }
        let order = registration.order
        let action = Aria2Reconciliation.decide(order, link: &registration.link, tasks: tasks)
        registrations[jobID] = registration
        switch action {
        case .add(let dropStaleResult):
            if dropStaleResult {
                _ = try? await rpc.call("removeDownloadResult", [.text(order.gid)], as: String.self)
            }
            await add(order, rpc: rpc)
        case .fail(let failure):
            // An ending leaves nothing of the job in aria2 before the job hears of it.
            await removeTasks(of: registration, among: tasks)
            finish(jobID, .failure(failure))
        case .finish(let task) where order.seeds && task.isSeeding:
            // Done for the job; aria2 seeds on from the work folder, which the job leaves there.
            await removeTasks(of: registration, among: tasks, keeping: task.gid)
            seeding.insert(Self.standardized(order.folder))
            Self.markSeeding(order.folder)
            finish(jobID, .success(task))
        case .finish(let task):
            await removeTasks(of: registration, among: tasks)
            finish(jobID, .success(task))
        case .progress(let task):
            let progress = JobProgress(bytesDone: task.completed, bytesTotal: task.total > 0 ? task.total : nil)
            guard progress != registration.lastProgress else { return }
            registrations[jobID]?.lastProgress = progress
            var state = Aria2ResumeState(task: task, order: order)
            state.infoHash = state.infoHash ?? registration.link.infoHash
            await registration.report(progress, state.json)
        }
    }

    /// Adds a job's task; "GID not unique" and "InfoHash already registered" mean it is there.
    private func add(_ order: Aria2Order, rpc: Aria2RPC) async {
        do {
            if let torrent = order.torrent {
                let encoded = Data(torrent).base64EncodedString()
                _ = try await rpc.call(
                    "addTorrent", [.text(encoded), .texts([]), .options(order.options)], as: String.self)
            } else {
                _ = try await rpc.call("addUri", [.texts([order.uri]), .options(order.options)], as: String.self)
            }
        } catch let refusal as Aria2RPC.Refusal where refusal.isDuplicateGID || refusal.isDuplicateInfoHash {
            return
        } catch let refusal as Aria2RPC.Refusal {
            finish(order.jobID, .failure(.permanent("aria2_refused", "aria2 refused the download: \(refusal.message)")))
        } catch {
            // Not reached: the next round tries again.
        }
    }

    private func finish(_ jobID: JobID, _ ending: Result<Aria2Task, JobFailure>) {
        guard let registration = registrations.removeValue(forKey: jobID) else { return }
        registration.waiter.resume(with: ending.mapError { $0 as any Error })
    }

    /// Removes a job's tasks from aria2 (its own GID, the torrent it turned into, and any of
    /// `tasks` it owns), running or stopped, keeping their files.
    private func removeTasks(
        of registration: Registration, among tasks: [Aria2Task], keeping kept: String? = nil
    )
        async
    {
        guard let rpc else { return }
        let link = registration.link
        var gids = [registration.order.gid] + [link.followed].compactMap(\.self)
        for task in tasks where !gids.contains(task.gid) {
            if registration.order.owns(task, followed: link.followed, infoHash: link.infoHash) {
                gids.append(task.gid)
            }
        }
        for gid in gids where gid != kept {
            if tasks.first(where: { $0.gid == gid })?.isStopped != true {
                _ = try? await rpc.call("forceRemove", [.text(gid)], as: String.self)
            }
            _ = try? await rpc.call("removeDownloadResult", [.text(gid)], as: String.self)
        }
    }

    /// Removes every task no job of this worker owns (left by an earlier attempt, a session file
    /// or anyone else), so aria2 holds nothing the database does not know about.
    private func removeUnowned(_ tasks: [Aria2Task], rpc: Aria2RPC) async {
        // A seeding task is its finished job's until the seeding ends; then it goes, with its files.
        // (Seeding, or checking its files again after aria2c restarted from its session.)
        var stillSeeding: Set<String> = []
        for task in tasks where !task.isStopped {
            if let folder = task.dir.map(Self.standardized), seeding.contains(folder) { stillSeeding.insert(folder) }
        }
        for folder in seeding.subtracting(stillSeeding) {
            seeding.remove(folder)
            try? FileManager.default.removeItem(atPath: folder)
        }
        for folder in stillSeeding { Self.markSeeding(folder) }
        for task in tasks {
            let owned = registrations.values.contains {
                $0.order.owns(task, followed: $0.link.followed, infoHash: $0.link.infoHash)
            }
            guard !owned, !(!task.isStopped && stillSeeding.contains(task.dir.map(Self.standardized) ?? "")) else {
                continue
            }
            if !task.isStopped {
                _ = try? await rpc.call("forceRemove", [.text(task.gid)], as: String.self)
            }
            _ = try? await rpc.call("removeDownloadResult", [.text(task.gid)], as: String.self)
        }
    }

    /// The RPC of a running aria2c, starting one (after the backoff) when there is none.
    private func runningRPC() async -> Aria2RPC? {
        if let process, process.isRunning, let rpc { return rpc }
        if process != nil {
            // It died: back off before the next start unless it had been up a while.
            failedStarts = ContinuousClock.now - startedAt > .seconds(30) ? 0 : failedStarts + 1
            nextStart = ContinuousClock.now + Self.backoff(failedStarts)
            process = nil
            rpc = nil
            WorkerRuntime.log("aria2c stopped; starting it again after \(Self.backoff(failedStarts))")
        }
        guard ContinuousClock.now >= nextStart else { return nil }
        let reason: String
        do {
            let started = try Aria2Process(downloads: downloads, session: session)
            process = started
            starts += 1
            startedAt = .now
            let candidate = Aria2RPC(
                port: started.port, secret: started.secret, client: client,
                timeout: max(.seconds(2), downloads.aria2.reconcileInterval * 5))
            for _ in 0..<100 {
                if (try? await candidate.call("getVersion", as: Aria2Version.self)) != nil {
                    started.forgetSecretFile()
                    rpc = candidate
                    return candidate
                }
                guard started.isRunning else { break }
                try? await Task.sleep(for: .milliseconds(50))
            }
            WorkerRuntime.log("aria2c did not answer on port \(started.port)")
            started.stop()
            reason = "aria2c (\(downloads.aria2.program)) did not answer on its RPC port"
        } catch {
            WorkerRuntime.log("\(error)")
            reason = "\(error)"
        }
        process = nil
        failedStarts += 1
        nextStart = ContinuousClock.now + Self.backoff(failedStarts)
        if failedStarts >= Self.startsBeforeFailingJobs {
            // The jobs go back to their retry policy rather than wait here for an engine that may
            // never come (aria2 not installed, a wrong aria2.program).
            for jobID in Array(registrations.keys) {
                finish(jobID, .failure(.retryable("aria2_unavailable", reason)))
            }
        }
        return nil
    }

    /// The marker a seeding work folder carries, touched every round: the cleanup leaves a work
    /// folder whose marker is fresh (`Aria2Engine.seedingMarker`) to its seeding.
    static let seedingMarker = ".ferry-seeding"

    private static func markSeeding(_ folder: String) {
        let marker = "\(folder)/\(seedingMarker)"
        if utimes(marker, nil) != 0 { _ = FileManager.default.createFile(atPath: marker, contents: nil) }
    }

    private static func standardized(_ folder: String) -> String {
        URL(fileURLWithPath: folder).standardizedFileURL.path
    }

    /// Rounds without an answer (each call waits up to five intervals, at least 2 s) after which
    /// aria2c counts as hung.
    static let unansweredRoundsBeforeKill = 3

    /// Failed starts in a row after which the waiting jobs fail (retryably).
    static let startsBeforeFailingJobs = 3

    /// 0.5 s doubling per failure in a row, at most 30 s.
    static func backoff(_ failures: Int) -> Duration {
        failures == 0 ? .zero : .milliseconds(min(30_000, 500 << min(failures - 1, 10)))
    }

    private struct Aria2Version: Decodable {
        var version: String
    }
}

/// What a job's record keeps about its aria2 task (reported with each progress): its GID and
/// info hash, the torrent it turned into, and how it is doing (speed, peers, seeders).
struct Aria2ResumeState: Codable, Hashable {
    var gid: String
    var infoHash: String?
    var torrentGID: String?
    var speed: Int64?
    var peers: Int?
    var seeders: Int?

    init(order: Aria2Order) {
        gid = order.gid
        infoHash = order.infoHash
    }

    init(task: Aria2Task, order: Aria2Order) {
        gid = order.gid
        infoHash = task.infoHash ?? order.infoHash
        torrentGID = task.gid == order.gid ? nil : task.gid
        speed = task.downloadSpeed.flatMap { Int64($0) }
        peers = task.connections.flatMap { Int($0) }
        seeders = task.numSeeders.flatMap { Int($0) }
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "{}"
    }
}

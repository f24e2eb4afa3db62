import AsyncHTTPClient
import FerryCore
import FerryTesting
import Foundation

@testable import FerryWorkers

/// A download executor with its own aria2 engine (a real aria2c), in a state folder of its own:
/// each test runs attempts the way a download worker would and looks at the files and at what
/// aria2 still holds.
final class Aria2Fixture: Sendable {
    let state: URL
    let client: HTTPClient
    let engine: Aria2Engine
    let executor: DownloadExecutor
    let jobID = JobID(Int64.random(in: 1...1_000_000))

    init(maxSize: Int64 = 1 << 30, program: String = "aria2c", seedTime: Duration = .zero) throws {
        state = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-aria2-\(UUID())")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        var settings = DownloadSettings()
        settings.allowedSchemes = ["http", "https", "ftp", "sftp", "magnet"]
        settings.maxSize = maxSize
        settings.aria2.reconcileInterval = .milliseconds(200)
        settings.idleTimeout = .seconds(5)
        settings.aria2.program = program
        settings.aria2.seedTime = seedTime
        client = HTTPClient(eventLoopGroupProvider: .singleton)
        engine = Aria2Engine(
            downloads: settings, session: Aria2Engine.sessionFile(stateDirectory: state.path), client: client)
        executor = DownloadExecutor(
            stateDirectory: state.path, settings: settings, client: client, progressInterval: .milliseconds(10),
            aria2: engine)
    }

    /// Stops aria2c; every test ends with it (a test that fails before leaves aria2c to stop
    /// with the test process, `--stop-with-process`).
    func close() async {
        await engine.shutdown()
    }

    deinit {
        try? client.syncShutdown()
        try? FileManager.default.removeItem(at: state)
    }

    /// A folder for test content (served by the FTP server or seeded), with `size` random bytes
    /// in `name`; returns the file's path.
    func content(_ name: String, size: Int, in folder: String = "origin") throws -> String {
        let directory = state.appendingPathComponent(folder)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var generator = SystemRandomNumberGenerator()
        let bytes = Data((0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let file = directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(
            at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try bytes.write(to: file)
        return file.path
    }

    /// Runs attempt `number` of the job; `progress` sees every report.
    func attempt(
        _ number: Int, _ spec: DownloadSpec,
        progress: @escaping @Sendable (JobProgress, String?) async -> Void = { _, _ in }
    ) async -> Result<JobResult, JobFailure> {
        let assignment = SupervisorMessage.Assignment(
            lease: JobLease(jobID: jobID, owner: WorkerID("test-worker"), attempt: number), payload: .download(spec))
        do {
            return .success(try await executor.execute(assignment, report: progress))
        } catch {
            return .failure(error)
        }
    }

    /// Every task aria2 holds right now (none when it is not running).
    func aria2Tasks() async throws -> [Aria2Task] {
        guard let rpc = await engine.currentRPC else { return [] }
        return try await rpc.allTasks()
    }

    /// What aria2 says of its tasks and the end of its log, for a failed expectation's message:
    /// a stall under a loaded suite cannot be reproduced alone, so the failure must tell.
    func diagnosis() async -> String {
        let tasks = (try? await aria2Tasks()).map { "\($0)" } ?? "no answer"
        let log =
            (try? String(contentsOfFile: Aria2Engine.sessionFile(stateDirectory: state.path) + ".log", encoding: .utf8))
            ?? ""
        return "aria2 tasks: \(tasks); aria2c log (end): \(log.suffix(2000))"
    }

    /// Waits until `condition` holds, up to `timeout`.
    func eventually(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return try await condition()
    }
}

/// The reports an attempt made, for tests that act in the middle of a transfer.
/// Whether a download's attempt has returned.
actor EndFlag {
    private(set) var isSet = false

    func set() { isSet = true }
}

actor ProgressLog {
    private(set) var reports: [(progress: JobProgress, resume: String?)] = []

    func record(_ progress: JobProgress, _ resume: String?) {
        reports.append((progress, resume))
    }

    var bytes: Int64 { reports.last?.progress.bytesDone ?? 0 }
    var lastResume: String? { reports.last { $0.resume != nil }?.resume }
}

extension Result where Failure == JobFailure {
    var failure: JobFailure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }
}

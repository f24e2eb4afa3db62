import AsyncHTTPClient
import FerryCore
import FerryTesting
import Foundation

@testable import FerryWorkers

/// A download executor in this process, with a real HTTP client, a real origin on loopback and a
/// state folder of its own: each test runs attempts the way a worker would and looks at the files.
final class DownloadFixture {
    let origin: TestOrigin
    let state: URL
    let client: HTTPClient
    let executor: DownloadExecutor
    let jobID = JobID(Int64.random(in: 1...1_000_000))

    init(_ settings: DownloadSettings = DownloadSettings()) throws {
        origin = try TestOrigin()
        state = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-download-\(UUID())")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: DownloadExecutor.clientConfiguration(settings, concurrency: 4))
        executor = DownloadExecutor(
            stateDirectory: state.path, settings: settings, client: client, progressInterval: .milliseconds(10))
    }

    deinit {
        try? client.syncShutdown()
        try? FileManager.default.removeItem(at: state)
    }

    /// What one attempt ended with, and the last resume state it reported.
    struct Attempt {
        var result: Result<JobResult, JobFailure>
        var resumeState: String?
    }

    /// Runs attempt `number` of the job, continuing from `resumeState`.
    func attempt(_ number: Int, _ spec: DownloadSpec, resumeState: String? = nil) async -> Attempt {
        let recorder = ResumeRecorder()
        let assignment = SupervisorMessage.Assignment(
            lease: JobLease(jobID: jobID, owner: WorkerID("test-worker"), attempt: number), payload: .download(spec),
            resumeState: resumeState)
        let result: Result<JobResult, JobFailure>
        do {
            result = .success(try await executor.execute(assignment) { _, resume in await recorder.record(resume) })
        } catch {
            result = .failure(error)
        }
        return Attempt(result: result, resumeState: await recorder.last ?? resumeState)
    }

    /// Runs a first attempt whose connection the origin cuts after `cutAfter` bytes (it must fail
    /// retryably), then a second one from the resume state the first left.
    func cutThenRetry(
        _ options: TestOrigin.Options, size: Int, cutAfter: Int, expectedSize: Int64? = nil
    ) async -> (first: Attempt, second: Attempt) {
        var options = options
        options.cutAfter = cutAfter
        let spec = DownloadSpec(url: origin.url(size: size, options), expectedSize: expectedSize)
        let first = await attempt(1, spec)
        return (first, await attempt(2, spec, resumeState: first.resumeState))
    }

    /// The partial files in the spool folder.
    var spoolFiles: [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: state.appendingPathComponent("spool").path)) ?? []
    }

    func size(of path: String) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? -1
    }
}

actor ResumeRecorder {
    var last: String?

    func record(_ resume: String?) {
        if let resume { last = resume }
    }
}

extension DownloadFixture.Attempt {
    var failure: JobFailure? {
        if case .failure(let failure) = result { return failure }
        return nil
    }

    var success: JobResult? {
        if case .success(let result) = result { return result }
        return nil
    }
}

import FerryCore
import FerryStore
import Foundation

/// Measures jobs per second through enqueue → claim → complete on the embedded store, for each
/// durability setting and transaction size, and prints one line of figures per scenario. The
/// *group commit* scenarios run the supervisor's own pattern: the completions of one batch and
/// the claim of the next in one transaction (``JobStore/apply(_:)``), so a job costs two commits
/// (enqueue, then complete-and-claim) instead of three.
///
/// Usage: QueueBenchmark DATA_DIR [--jobs N] [--single-jobs N] [--batch N]
@main
enum QueueBenchmark {
    struct Scenario {
        var synchronous: StoreConfiguration.Synchronous
        var batch: Int
        var jobs: Int
        var grouped = false
    }

    static func main() async throws {
        var arguments = Array(CommandLine.arguments.dropFirst())
        guard let dataDirectory = arguments.first else {
            FileHandle.standardError.write(
                Data("usage: QueueBenchmark DATA_DIR [--jobs N] [--single-jobs N] [--batch N]\n".utf8))
            exit(64)
        }
        arguments.removeFirst()
        var jobs = 100_000
        var singleJobs = 2_000
        var batch = 500
        while arguments.count >= 2 {
            let value = Int(arguments[1]) ?? 0
            switch arguments[0] {
            case "--jobs": jobs = value
            case "--single-jobs": singleJobs = value
            case "--batch": batch = value
            default: break
            }
            arguments.removeFirst(2)
        }
        let scenarios = [
            Scenario(synchronous: .full, batch: batch, jobs: jobs),
            Scenario(synchronous: .normal, batch: batch, jobs: jobs),
            Scenario(synchronous: .full, batch: 1, jobs: singleJobs),
            Scenario(synchronous: .normal, batch: 1, jobs: singleJobs),
            Scenario(synchronous: .full, batch: batch, jobs: jobs, grouped: true),
            Scenario(synchronous: .full, batch: 1, jobs: singleJobs, grouped: true),
        ]
        print(
            "scenario\tsynchronous\tjobs_per_txn\tjobs\tenqueue_per_s\tclaim_per_s\tcomplete_per_s\tpipeline_jobs_per_s\tseconds"
        )
        for scenario in scenarios {
            if scenario.grouped {
                try await runGrouped(scenario, in: dataDirectory)
            } else {
                try await run(scenario, in: dataDirectory)
            }
        }
    }

    static func open(_ scenario: Scenario, in folder: String) async throws -> (SQLiteJobStore, WorkerID) {
        let name = "queue-\(scenario.synchronous)-\(scenario.batch)\(scenario.grouped ? "-grouped" : "")"
        let path = "\(folder)/\(name).sqlite"
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        let store = try SQLiteJobStore.open(StoreConfiguration(path: path, synchronous: scenario.synchronous))
        try store.migrate()
        let owner = WorkerID("bench-download-1")
        try await store.registerWorker(
            WorkerRecord(id: owner, role: .download, slot: 1, pid: getpid(), startedAt: Date()))
        return (store, owner)
    }

    static func requests(_ count: Int, from first: Int) -> [DownloadRequest] {
        (0..<count).map { DownloadRequest(spec: DownloadSpec(url: "https://origin.example/file-\(first + $0)")) }
    }

    static func completions(of claimed: [ClaimedJob]) -> [ReportBatch.Report] {
        let sha = String(repeating: "ab", count: 32)
        return claimed.map {
            .completed(
                JobCompletion(lease: $0.lease, result: JobResult(location: "/spool/\($0.job.id)", size: 1, sha256: sha))
            )
        }
    }

    /// Enqueue a batch, then one transaction completes the batch before it and claims this one.
    static func runGrouped(_ scenario: Scenario, in folder: String) async throws {
        let (store, owner) = try await open(scenario, in: folder)
        let clock = ContinuousClock()
        var enqueueTime = Duration.zero
        var applyTime = Duration.zero
        var held: [ClaimedJob] = []
        var enqueued = 0
        while enqueued < scenario.jobs || !held.isEmpty {
            let count = min(scenario.batch, scenario.jobs - enqueued)
            let start = clock.now
            if count > 0 { _ = try await store.enqueue(downloads: requests(count, from: enqueued)) }
            let afterEnqueue = clock.now
            let claims = count > 0 ? [ReportBatch.Claim(kind: .download, owner: owner, limit: count)] : []
            let applied = try await store.apply(ReportBatch(reports: completions(of: held), claims: claims))
            applyTime += clock.now - afterEnqueue
            enqueueTime += afterEnqueue - start
            guard applied.reports.allSatisfy({ if case .success = $0 { true } else { false } }) else {
                throw StoreError(.corrupt, "a completion was refused: \(applied.reports)")
            }
            held = try applied.claims.first?.get() ?? []
            guard held.count == count else { throw StoreError(.corrupt, "claimed \(held.count) of \(count) jobs") }
            enqueued += count
        }
        let total = enqueueTime + applyTime
        let rate = { (duration: Duration) in Double(scenario.jobs) / duration.inSeconds }
        let name = scenario.batch == 1 ? "group commit, one job per report" : "group commit, batched"
        print(
            [
                name, scenario.synchronous.rawValue, String(scenario.batch), String(scenario.jobs),
                String(format: "%.0f", rate(enqueueTime)), "-",
                String(format: "%.0f (with the claim)", rate(applyTime)),
                String(format: "%.0f", rate(total)), String(format: "%.2f", total.inSeconds),
            ].joined(separator: "\t"))
        try await expectSucceeded(scenario.jobs, in: store)
    }

    static func expectSucceeded(_ jobs: Int, in store: SQLiteJobStore) async throws {
        let counts = try await store.queueCounts()
        let succeeded = counts.first { $0.state == .succeeded }?.count ?? 0
        if succeeded != jobs {
            throw StoreError(.corrupt, "expected \(jobs) succeeded jobs, found \(succeeded)")
        }
    }

    static func run(_ scenario: Scenario, in folder: String) async throws {
        let (store, owner) = try await open(scenario, in: folder)
        let clock = ContinuousClock()
        var enqueueTime = Duration.zero
        var claimTime = Duration.zero
        var completeTime = Duration.zero
        var done = 0
        let sha = String(repeating: "ab", count: 32)
        while done < scenario.jobs {
            let count = min(scenario.batch, scenario.jobs - done)
            let start = clock.now
            _ = try await store.enqueue(downloads: requests(count, from: done))
            let enqueued = clock.now
            let claimed = try await store.claimDueJobs(of: .download, for: owner, limit: count)
            let claimedAt = clock.now
            let completions = claimed.map {
                JobCompletion(lease: $0.lease, result: JobResult(location: "/spool/\($0.job.id)", size: 1, sha256: sha))
            }
            _ = try await store.complete(completions)
            let completed = clock.now
            guard claimed.count == count else {
                throw StoreError(.corrupt, "claimed \(claimed.count) of \(count) jobs")
            }
            enqueueTime += enqueued - start
            claimTime += claimedAt - enqueued
            completeTime += completed - claimedAt
            done += count
        }
        let total = enqueueTime + claimTime + completeTime
        let rate = { (duration: Duration) in Double(scenario.jobs) / duration.inSeconds }
        let name = scenario.batch == 1 ? "one job per transaction" : "batched"
        print(
            [
                name, scenario.synchronous.rawValue, String(scenario.batch), String(scenario.jobs),
                String(format: "%.0f", rate(enqueueTime)), String(format: "%.0f", rate(claimTime)),
                String(format: "%.0f", rate(completeTime)), String(format: "%.0f", rate(total)),
                String(format: "%.2f", total.inSeconds),
            ].joined(separator: "\t"))
        // Sanity: every job ended succeeded, none lost.
        try await expectSucceeded(scenario.jobs, in: store)
    }
}

import FerryCore
import FerryPostgres
import FerryStore
import Foundation

/// Measures jobs per second through enqueue → claim → complete, for each transaction size, and
/// prints one line of figures per scenario. The *group commit* scenarios run the supervisor's own
/// pattern: the completions of one batch and the claim of the next in one transaction
/// (``JobStore/apply(_:)``), so a job costs two commits (enqueue, then complete-and-claim)
/// instead of three.
///
/// On SQLite (a DATA_DIR) each scenario runs for each durability setting; with `--postgres URL`
/// the scenarios run on that PostgreSQL database at whatever durability the server has
/// (Benchmarks/run-postgres-benchmark starts one at full durability and names it in its output).
///
/// Usage: QueueBenchmark (DATA_DIR | --postgres URL) [--jobs N] [--single-jobs N] [--batch N]
///                       [--scenarios batched,single,grouped,grouped-single]
///        QueueBenchmark (DATA_DIR | --postgres URL) --lanes N [--lane-mode serial|baseline|both]
/// The second form measures a serial lane's backlog instead (``LaneBacklog``); on PostgreSQL one
/// mode per run, each on a fresh database.
@main
enum QueueBenchmark {
    struct Scenario {
        var synchronous: StoreConfiguration.Synchronous = .full
        var batch: Int
        var jobs: Int
        var grouped = false

        var name: String {
            switch (grouped, batch == 1) {
            case (false, false): "batched"
            case (false, true): "one job per transaction"
            case (true, false): "group commit, batched"
            case (true, true): "group commit, one job per report"
            }
        }
    }

    struct Options {
        var dataDirectory: String?
        var postgresURL: String?
        var jobs = 100_000
        var singleJobs = 2_000
        var batch = 500
        /// PostgreSQL only: which scenarios to run (the script runs each on a fresh database).
        var scenarios = ["batched", "single", "grouped", "grouped-single"]
        /// Held uploads for the lane backlog measurement (0: the pipeline scenarios instead).
        var lanes = 0
        var laneModes = ["baseline", "serial"]
    }

    static let usage =
        "usage: QueueBenchmark (DATA_DIR | --postgres URL) [--jobs N] [--single-jobs N] [--batch N] [--scenarios batched,single,grouped,grouped-single]\n"
        + "       QueueBenchmark (DATA_DIR | --postgres URL) --lanes N [--lane-mode serial|baseline|both]\n"

    static func main() async throws {
        let options = parse(Array(CommandLine.arguments.dropFirst()))
        if options.lanes > 0 {
            try await runLanes(options)
            return
        }
        print(StorePipeline.header)
        if let url = options.postgresURL {
            try await runPostgres(url: url, options)
        } else if let folder = options.dataDirectory {
            try await runSQLite(in: folder, options)
        } else {
            FileHandle.standardError.write(Data(usage.utf8))
            exit(64)
        }
    }

    static func parse(_ arguments: [String]) -> Options {
        var options = Options()
        var arguments = arguments[...]
        if let first = arguments.first, !first.hasPrefix("--") {
            options.dataDirectory = first
            arguments = arguments.dropFirst()
        }
        while arguments.count >= 2 {
            let (name, value) = (arguments[arguments.startIndex], arguments[arguments.startIndex + 1])
            switch name {
            case "--jobs": options.jobs = Int(value) ?? 0
            case "--single-jobs": options.singleJobs = Int(value) ?? 0
            case "--batch": options.batch = Int(value) ?? 0
            case "--postgres": options.postgresURL = value
            case "--scenarios": options.scenarios = value.split(separator: ",").map(String.init)
            case "--lanes": options.lanes = Int(value) ?? 0
            case "--lane-mode": options.laneModes = value == "both" ? ["baseline", "serial"] : [value]
            default:
                FileHandle.standardError.write(Data("unknown option \(name)\n\(usage)".utf8))
                exit(64)
            }
            arguments = arguments.dropFirst(2)
        }
        return options
    }

    // MARK: SQLite

    static func runSQLite(in folder: String, _ options: Options) async throws {
        let (batch, jobs, single) = (options.batch, options.jobs, options.singleJobs)
        let scenarios = [
            Scenario(synchronous: .full, batch: batch, jobs: jobs),
            Scenario(synchronous: .normal, batch: batch, jobs: jobs),
            Scenario(synchronous: .full, batch: 1, jobs: single),
            Scenario(synchronous: .normal, batch: 1, jobs: single),
            Scenario(synchronous: .full, batch: batch, jobs: jobs, grouped: true),
            Scenario(synchronous: .full, batch: 1, jobs: single, grouped: true),
        ]
        for scenario in scenarios {
            let label = "\(scenario.synchronous)-\(scenario.batch)\(scenario.grouped ? "-grouped" : "")"
            let path = "\(folder)/queue-\(label).sqlite"
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            let store = try SQLiteJobStore.open(StoreConfiguration(path: path, synchronous: scenario.synchronous))
            try store.migrate()
            try await measure(scenario, on: store, durability: scenario.synchronous.rawValue)
        }
    }

    // MARK: PostgreSQL

    static func runPostgres(url: String, _ options: Options) async throws {
        let (batch, jobs, single) = (options.batch, options.jobs, options.singleJobs)
        let known = [
            "batched": Scenario(batch: batch, jobs: jobs),
            "single": Scenario(batch: 1, jobs: single),
            "grouped": Scenario(batch: batch, jobs: jobs, grouped: true),
            "grouped-single": Scenario(batch: 1, jobs: single, grouped: true),
        ]
        let store = try await PostgresJobStore.open(PostgresStoreConfiguration(url: url))
        defer { store.close() }
        try await store.migrate()
        for name in options.scenarios {
            guard let scenario = known[name] else {
                FileHandle.standardError.write(Data("unknown scenario \(name)\n\(usage)".utf8))
                exit(64)
            }
            // The server's synchronous_commit; run-postgres-benchmark prints the server's settings.
            try await measure(scenario, on: store, durability: "on", worker: "bench-\(name)-\(getpid())")
        }
    }

    // MARK: Lane backlog

    static func runLanes(_ options: Options) async throws {
        print(LaneBacklog.header)
        for mode in options.laneModes {
            guard mode == "serial" || mode == "baseline" else {
                FileHandle.standardError.write(Data("unknown lane mode \(mode)\n\(usage)".utf8))
                exit(64)
            }
            let serial = mode == "serial"
            let targets: Set<String> = serial ? ["tg"] : []
            let figures: LaneBacklog.Figures
            if let url = options.postgresURL {
                var configuration = try PostgresStoreConfiguration(url: url)
                configuration.serialTargets = targets
                let store = try await PostgresJobStore.open(configuration)
                defer { store.close() }
                try await store.migrate()
                figures = try await LaneBacklog.measure(store, held: options.lanes, serial: serial, owner: "bench")
            } else if let folder = options.dataDirectory {
                let path = "\(folder)/lanes-\(mode).sqlite"
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
                var configuration = StoreConfiguration(path: path)
                configuration.serialTargets = targets
                let store = try SQLiteJobStore.open(configuration)
                try store.migrate()
                figures = try await LaneBacklog.measure(store, held: options.lanes, serial: serial, owner: "bench")
            } else {
                FileHandle.standardError.write(Data(usage.utf8))
                exit(64)
            }
            print(LaneBacklog.row(serial: serial, held: options.lanes, figures))
            fflush(nil)
        }
    }

    // MARK: Both stores

    /// Registers a worker, runs the scenario, prints its row and checks that every job it
    /// enqueued ended succeeded.
    static func measure(
        _ scenario: Scenario, on store: some JobStore, durability: String, worker: String = "bench-download-1"
    ) async throws {
        let owner = WorkerID(worker)
        try await store.registerWorker(
            WorkerRecord(id: owner, role: .download, slot: 1, pid: getpid(), startedAt: Date()))
        let before = try await StorePipeline.succeeded(in: store)
        let timings =
            scenario.grouped
            ? try await StorePipeline.runGrouped(store, owner: owner, batch: scenario.batch, jobs: scenario.jobs)
            : try await StorePipeline.run(store, owner: owner, batch: scenario.batch, jobs: scenario.jobs)
        print(
            StorePipeline.row(
                name: scenario.name, durability: durability, batch: scenario.batch, jobs: scenario.jobs, timings))
        fflush(nil)  // each row as it is measured (the script tees them)
        let succeeded = try await StorePipeline.succeeded(in: store) - before
        if succeeded != scenario.jobs {
            throw StoreError(.corrupt, "expected \(scenario.jobs) succeeded jobs, found \(succeeded)")
        }
    }
}

import FerryCore
import FerryTesting
import Foundation
import Testing

@testable import FerryPostgres

/// The hot path's batched statements find each job by its id whatever the statistics say. A
/// queue's table is mostly finished jobs when autovacuum analyzes it: every owner NULL, so an
/// index over owners looks empty to the planner. A completion planned from such statistics scanned
/// that index and compared every running job with every outcome (3.8× slower, BENCHMARKS.md).
@Suite("PostgreSQL plans after ANALYZE")
struct PostgresPlanTests {
    @Test(
        "After ANALYZE of a table of finished jobs, the completion and progress statements (batched and for one job) still find each job by its id (generic plans, run and rolled back)"
    )
    func batchedStatementsProbeByID() async throws {
        let fixture = try await EngineFixture(.postgres)
        let owner = try await fixture.worker("download-1.a")
        // As the benchmark meets it (BENCHMARKS.md): statistics of 500 finished jobs, then as
        // many running. On fewer rows the planner reads the whole table, which is right there.
        let finished = try await claimed(500, fixture, owner)
        _ = try await fixture.store.complete(
            finished.map { JobCompletion(lease: $0.lease, result: StoreFixture.result(for: $0.job.id)) })
        let database = String(try #require(fixture.postgresURL).split(separator: "/").last!.split(separator: "?")[0])
        let server = try await PostgresTestServer.shared()
        let analyzed = try await server.psql(database, "ANALYZE jobs")
        #expect(analyzed.status == 0, "\(analyzed.output)")
        let running = try await claimed(500, fixture, owner)
        let ids = "ARRAY[\(running.map { String($0.job.id.rawValue) }.joined(separator: ","))]::bigint[]"
        let owners = "array_fill('\(owner.rawValue)'::text, ARRAY[\(running.count)])"
        let attempts = "array_fill(1::bigint, ARRAY[\(running.count)])"
        let texts = "array_fill('x'::text, ARRAY[\(running.count)])"
        let sizes = "array_fill(1::bigint, ARRAY[\(running.count)])"
        let now = Int64(fixture.clock.now.timeIntervalSince1970 * 1000)
        let statements: [(name: String, sql: String, arguments: String, rows: Int)] = [
            (
                "complete", PostgresJobStore.CompleteAttempts.sql,
                "\(ids), \(owners), \(attempts), \(texts), \(sizes), array_fill('\(StoreFixture.sha)'::text, ARRAY[\(running.count)]), \(texts), \(now)",
                running.count
            ),
            (
                "progress", PostgresJobStore.RecordProgress.sql,
                "\(ids), \(owners), \(attempts), \(sizes), \(sizes), array_fill(false, ARRAY[\(running.count)]), \(texts), \(now)",
                running.count
            ),
            // One completion or progress report, with scalars: its one plan must be the primary key's.
            (
                "complete alone", PostgresJobStore.CompleteAlone.sql,
                "\(running[0].job.id.rawValue), '\(owner.rawValue)', 1, 'x', 1, '\(StoreFixture.sha)', NULL, \(now)", 1
            ),
            (
                "complete one in a batch", PostgresJobStore.CompleteOne.sql,
                "\(running[1].job.id.rawValue), '\(owner.rawValue)', 1, 'x', 1, '\(StoreFixture.sha)', NULL, \(now)", 1
            ),
            (
                "one progress report", PostgresJobStore.RecordOneProgress.sql,
                "\(running[2].job.id.rawValue), '\(owner.rawValue)', 1, 1, NULL, false, NULL, \(now)", 1
            ),
        ]
        for statement in statements {
            // A generic plan is what a prepared statement runs after its fifth execution.
            let result = try await server.psql(
                database,
                """
                SET plan_cache_mode = force_generic_plan;
                PREPARE probe AS \(statement.sql);
                BEGIN;
                EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE probe(\(statement.arguments));
                ROLLBACK;
                """)
            #expect(result.status == 0, "\(statement.name): \(result.output)")
            let plan = result.output
            #expect(plan.contains("Update on jobs (actual rows=\(statement.rows) "), "\(statement.name): \(plan)")
            #expect(!plan.contains("jobs_by_owner"), "\(statement.name): \(plan)")
            if statement.rows == 1 {
                #expect(plan.contains("Index Scan using jobs_pkey on jobs"), "\(statement.name): \(plan)")
            }
            // Each running job compared with every outcome shows as rows removed by a join filter.
            #expect(!plan.contains("Rows Removed by Join Filter"), "\(statement.name): \(plan)")
        }
    }

    /// `count` new downloads, claimed by `owner`.
    private func claimed(_ count: Int, _ fixture: EngineFixture, _ owner: WorkerID) async throws -> [ClaimedJob] {
        let requests = (0..<count).map { _ in
            DownloadRequest(spec: DownloadSpec(url: "https://example.test/\(UUID().uuidString)"))
        }
        _ = try await fixture.store.enqueue(downloads: requests)
        let jobs = try await fixture.store.claimDueJobs(of: .download, for: owner, limit: count)
        #expect(jobs.count == count)
        return jobs
    }
}

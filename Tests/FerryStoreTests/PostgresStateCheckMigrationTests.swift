import FerryCore
import FerryTesting
import Foundation
import Testing

@testable import FerryPostgres

/// Migration pg13 swaps the inline state CHECK for a call of a function with the same CASE
/// (read back from stored text and prepared again at every statement, the inline one was a quarter
/// of the server's CPU with one job per transaction). An upgraded database keeps its jobs, ends
/// with the one state CHECK, validated, and still refuses a state without its columns.
@Suite("PostgreSQL migration pg13: the state CHECK as a function")
struct PostgresStateCheckMigrationTests {
    @Test(
        "A database at pg12 holding queued, running and succeeded jobs takes pg13: its jobs stay, one state CHECK is left (the function's, validated) and it refuses a running job without an owner"
    )
    func upgradesADatabaseThatHoldsJobs() async throws {
        let fixture = try await EngineFixture(.postgres)
        let owner = try await fixture.worker("download-1.a")
        let requests = (0..<3).map { _ in
            DownloadRequest(spec: DownloadSpec(url: "https://example.test/\(UUID().uuidString)"))
        }
        _ = try await fixture.store.enqueue(downloads: requests)
        let running = try await fixture.store.claimDueJobs(of: .download, for: owner, limit: 2)
        try #require(running.count == 2)
        _ = try await fixture.store.complete([
            JobCompletion(lease: running[0].lease, result: StoreFixture.result(for: running[0].job.id))
        ])
        let url = try #require(fixture.postgresURL)
        let database = String(url.split(separator: "/").last!.split(separator: "?")[0])
        let server = try await PostgresTestServer.shared()

        // Back to pg12: the inline CHECK as pg1 made it (named by PostgreSQL), no function, pg13 not applied.
        let rewound = try await server.psql(
            database,
            """
            ALTER TABLE jobs DROP CONSTRAINT jobs_state_fits;
            DROP FUNCTION ferry_job_state_fits;
            ALTER TABLE jobs ADD \(PostgresSchema.stateCheck);
            DELETE FROM ferry_migrations WHERE identifier = 'pg13-state-check-as-a-function';
            """)
        #expect(rewound.status == 0, "\(rewound.output)")
        let store = try await PostgresJobStore.open(.patient(url))
        try await store.migrate()
        store.close()

        let checks = try await server.psql(
            database,
            """
            SELECT conname || ' ' || convalidated FROM pg_constraint
            WHERE conrelid = 'jobs'::regclass AND contype = 'c'
                AND (pg_get_constraintdef(oid) LIKE '%CASE state%' OR pg_get_constraintdef(oid) LIKE '%ferry_job_state_fits%')
            """)
        #expect(checks.output.split(separator: "\n") == ["jobs_state_fits true"], "\(checks.output)")
        let states = try await server.psql(database, "SELECT state, count(*) FROM jobs GROUP BY state ORDER BY state")
        #expect(states.output.split(separator: "\n") == ["queued|1", "running|1", "succeeded|1"], "\(states.output)")
        let refused = try await server.psql(database, "UPDATE jobs SET owner = NULL WHERE state = 'running'")
        #expect(refused.status != 0)
        #expect(refused.output.contains("jobs_state_fits"), "\(refused.output)")
    }
}

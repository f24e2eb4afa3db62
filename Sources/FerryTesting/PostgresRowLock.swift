import Foundation

/// Rows another session keeps locked until the test releases them: what a frozen node's open
/// transaction, or a long scan, does to the rows it holds. The locking transaction is psql's,
/// asleep after its `SELECT ... FOR UPDATE`; releasing it terminates that session.
public final class PostgresRowLock {
    private let server: PostgresTestServer
    private let database: String
    private let process: Process
    /// The locking session's `application_name`, to find it among the server's sessions.
    private let name = "ferry test lock \(UUID().uuidString.prefix(8))"

    /// Locks the rows `select` returns (a `SELECT ... FOR UPDATE`) in `database`, and returns
    /// once the lock is held.
    public init(on server: PostgresTestServer, database: String, select: String) async throws {
        self.server = server
        self.database = database
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "PGAPPNAME=\(name)", "psql", "-X", "-q", "-h", "127.0.0.1", "-p", String(server.port), "-U",
            PostgresTestServer.user, "-d", database, "-c",
            // The session checks its client every 100 ms, so that it ends soon after psql does (``abandon()``).
            "SET client_connection_check_interval = 100; BEGIN; \(select); SELECT pg_sleep(3600); COMMIT;",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var looks = 0
        while !(try await isHeld()), looks < 200 {
            looks += 1
            try await Task.sleep(for: .milliseconds(50))
        }
        guard try await isHeld() else {
            await release()
            throw PostgresTestServerError("the locking transaction on \(database) did not start")
        }
    }

    /// Whether the locking transaction still holds its rows (it sleeps until released).
    public func isHeld() async throws -> Bool {
        let sleeping = try await server.psql(
            database,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = '\(name)' AND query LIKE '%pg_sleep(3600)%'"
        )
        return sleeping.output.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
    }

    /// Ends the locking transaction, as the server does a dead node's once its connection goes.
    public func release() async {
        _ = try? await server.psql(
            database, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '\(name)'")
        await ChildProcess.waitUntilExit(process)
    }

    /// Ends the locking psql without waiting (a test's clean-up when it failed before
    /// ``release()``): the server ends its session within 100 ms, when it finds the client gone.
    public func abandon() {
        if process.isRunning { process.terminate() }
    }

    deinit {
        if process.isRunning { process.terminate() }
    }
}

import FerryCore
import FerryPostgres
import FerryStore
import FerryTesting
import Foundation
import Testing

extension ProcessSuites {
    /// The `ferry` binary as a user runs it: real processes, real files, real signals.
    @Suite("The ferry command line", .serialized)
    struct CommandLineTests {
        @Test("Every command's --help says what it does")
        func helpOnEveryCommand() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let commands: [[String]] = [
                [], ["serve"], ["config"], ["config", "check"], ["config", "show"], ["config", "keys"], ["db"],
                ["db", "migrate"], ["db", "status"], ["version"],
            ]
            for command in commands {
                let output = try FerryProcess.run(command + ["--help"], in: scratch.url)
                #expect(output.status == 0, "\(command) --help failed")
                #expect(output.standardOutput.contains("OVERVIEW:"), "\(command) --help has no overview")
            }
        }

        @Test("`ferry version` prints the version, protocol and schema")
        func version() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let output = try FerryProcess.run(["version"], in: scratch.url)
            #expect(output.status == 0)
            #expect(output.standardOutput.contains("ferry \(FerryVersion.current)"))
            #expect(output.standardOutput.contains("database schema \(SQLiteJobStore.knownMigrations.last!)"))
        }

        @Test("`ferry config check` explains a broken file precisely and exits 78")
        func configCheckExplainsErrors() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let file = try scratch.write("supervisor:\n  hang_timeout: 5 minutes\nhttp:\n  prot: 80\n", to: "bad.yaml")
            let output = try FerryProcess.run(["config", "check", "--config", file], in: scratch.url)
            #expect(output.status == 78)
            #expect(
                output.standardError.contains(
                    "bad.yaml:2:17: supervisor.hang_timeout = \"5 minutes\": expected a duration such as 500ms, 15s, 2m or 1h, from 1s to 1h"
                ))
            #expect(output.standardError.contains("bad.yaml:4:3: http.prot: unknown key; did you mean \"http.port\"?"))
            let good = try FerryProcess.run(["config", "check"], in: scratch.url)
            #expect(good.status == 0)
            #expect(good.standardOutput.contains("ok: no file, embedded defaults"))
        }

        @Test("`ferry serve` with an invalid configuration exits 78 before creating anything")
        func serveRefusesBadConfig() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let output = try FerryProcess.run(
                ["serve"], in: scratch.url, environment: ["FERRY_DATABASE_SYNCHRONOUS": "off"])
            #expect(output.status == 78)
            #expect(output.standardError.contains("FERRY_DATABASE_SYNCHRONOUS (database.synchronous) = \"off\""))
            #expect(!FileManager.default.fileExists(atPath: scratch.url.appendingPathComponent("ferry-state").path))
        }

        @Test("`ferry db migrate` creates the database once and is idempotent; `db status` reads it")
        func databaseMigrate() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let first = try FerryProcess.run(["db", "migrate"], in: scratch.url)
            #expect(first.status == 0)
            #expect(first.standardOutput.contains("applied \(SQLiteJobStore.knownMigrations.joined(separator: ", "))"))
            let second = try FerryProcess.run(["db", "migrate"], in: scratch.url)
            #expect(second.standardOutput.contains("already up to date"))
            let status = try FerryProcess.run(["db", "status"], in: scratch.url)
            #expect(status.status == 0)
            #expect(status.standardOutput.contains("migrations pending: none"))
            #expect(status.standardOutput.contains("integrity: ok"))
        }

        @Test(
            "With database.url, `ferry db migrate` and `db status` work on PostgreSQL; a wrong password file or an unreachable server is a clear error, for `serve` too (exit 69)"
        )
        func postgresDatabase() async throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let url = try await PostgresTestServer.shared().makeDatabase()
            let environment = ["FERRY_DATABASE_URL": url]
            let first = try FerryProcess.run(["db", "migrate"], in: scratch.url, environment: environment)
            #expect(first.status == 0, "\(first.standardError)")
            let migrations = PostgresJobStore.knownMigrations
            #expect(first.standardOutput.contains("applied \(migrations.joined(separator: ", "))"))
            let second = try FerryProcess.run(["db", "migrate"], in: scratch.url, environment: environment)
            #expect(second.standardOutput.contains("already up to date (\(migrations.last!))"))
            let status = try FerryProcess.run(["db", "status"], in: scratch.url, environment: environment)
            #expect(status.status == 0 && status.standardOutput.contains("migrations pending: none"))

            let missing = try FerryProcess.run(
                ["db", "status"], in: scratch.url,
                environment: environment.merging(["FERRY_DATABASE_PASSWORD_FILE": "/nonexistent/pw"]) { $1 })
            #expect(missing.status != 0)
            #expect(missing.standardError.contains("database.password_file"))
            let unreachable = try FerryProcess.run(
                ["db", "status"], in: scratch.url,
                environment: ["FERRY_DATABASE_URL": "postgres://ferry@127.0.0.1:1/ferry?sslmode=disable"])
            #expect(unreachable.status != 0)
            #expect(
                unreachable.standardError.contains("cannot reach PostgreSQL at postgres://ferry@127.0.0.1:1/ferry"),
                "\(unreachable.standardError)")

            let backup = try FerryProcess.run(["db", "backup"], in: scratch.url, environment: environment)
            #expect(backup.status == 78 && backup.standardError.contains("pg_dump"), "\(backup.standardError)")
            let serve = try FerryProcess.run(
                ["serve"], in: scratch.url,
                environment: ["FERRY_DATABASE_URL": "postgres://ferry@127.0.0.1:1/ferry?sslmode=disable"])
            #expect(serve.status == 69, "\(serve.standardError)")
            #expect(
                serve.standardError.contains("cannot reach PostgreSQL at postgres://ferry@127.0.0.1:1/ferry"),
                "\(serve.standardError)")
        }

        @Test("A garbage database file gets a clear error, not a crash")
        func garbageDatabase() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            try FileManager.default.createDirectory(
                at: scratch.url.appendingPathComponent("ferry-state"), withIntermediateDirectories: true)
            _ = try scratch.write(String(repeating: "not a database ", count: 400), to: "ferry-state/ferry.sqlite")
            let output = try FerryProcess.run(["serve"], in: scratch.url)
            #expect(output.status == 65)
            #expect(output.standardError.contains("is not a usable Ferry database"))
        }

        @Test("`ferry serve` recovers running jobs, tells systemd READY and STATUS, and stops cleanly on SIGTERM")
        func serveLifecycle() async throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            // A previous run died while a worker held a job.
            let databasePath = scratch.url.appendingPathComponent("ferry-state/ferry.sqlite").path
            try FileManager.default.createDirectory(
                at: scratch.url.appendingPathComponent("ferry-state"), withIntermediateDirectories: true)
            let job: JobID
            do {
                let store = try SQLiteJobStore.open(StoreConfiguration(path: databasePath))
                try store.migrate()
                let worker = WorkerID("download-1.old")
                try await store.registerWorker(
                    WorkerRecord(id: worker, role: .download, slot: 1, pid: 999_999, startedAt: Date()))
                job = try await store.enqueue(
                    download: DownloadRequest(spec: DownloadSpec(url: "http://127.0.0.1:9/a"))
                )
                .job.id
                let claimed = try await store.claimDueJobs(of: .download, for: worker, limit: 1)
                #expect(claimed.map(\.job.id) == [job])
            }
            let notify = try NotifySocket(in: scratch.url)
            let serve = try FerryProcess.start(["serve"], in: scratch.url, environment: ["NOTIFY_SOCKET": notify.path])
            let ready = try #require(notify.receive(timeout: 30), "no READY from ferry serve")
            #expect(ready.contains("READY=1"))
            #expect(ready.contains("STATUS=ready: "))
            #expect(ready.contains("1 recovered at start"))

            // The job went back to the queue before anything else ran (the new workers may have taken
            // it again since; its URL points at a closed loopback port, so nothing leaves the machine).
            let store = try SQLiteJobStore.open(StoreConfiguration(path: databasePath, readOnly: true))
            let events = try await store.events(of: job)
            #expect(events.map(\.cause).prefix(3) == ["create", "claim", "requeue"])
            #expect(events.dropFirst(2).first?.owner == WorkerID("download-1.old"))
            #expect(events.dropFirst(2).first?.to == .queued)
            #expect(try await store.job(job).owner != WorkerID("download-1.old"))
            let workers = try await store.workers(includeExited: true, limit: 10)
            #expect(workers.first { $0.id == WorkerID("download-1.old") }?.exit?.reason == "supervisor_restart")

            serve.process.terminate()
            let stopping = try #require(notify.receive(timeout: 30), "no STOPPING from ferry serve")
            #expect(stopping.contains("STOPPING=1"))
            serve.process.waitUntilExit()
            #expect(serve.process.terminationReason == .exit)
            #expect(serve.process.terminationStatus == 0)
        }
    }
}

public import Foundation
import Synchronization

/// A real PostgreSQL server (Debian's `postgresql-15`) for the tests: initdb'd into a temporary
/// folder and started on a free loopback port, as an unprivileged user when the tests run as root
/// (initdb refuses root). One server serves the whole test process; each test takes a database of
/// its own (``makeDatabase()``); a test that stops or restarts the server takes a private one
/// (``startPrivate()``). Everything here that waits for a child process or polls does it on a
/// thread of its own (``ChildProcess/offPool(_:)``): on a 2-core machine the tests' tasks share
/// two threads, and a blocking initdb, createdb or psql on one of them stalled the tests beside
/// it (a node's renewal or a pacer's connection then missed its deadline). A server gets SIGINT
/// (a fast shutdown) when the test process dies, however it dies: a small shell beside it
/// watches the test process.
public final class PostgresTestServer: Sendable {
    public let port: Int
    public let folder: URL
    /// The superuser the tests connect as (trust authentication on loopback).
    public static let user = "ferry"
    /// A role that must give its password (scram-sha-256), for the paths a password travels.
    public static let passwordUser = "ferry_password"
    public static let password = "s3cret with spaces & symbols!"
    private let bin: String
    private let asUser: [String]
    private let pid = Mutex<pid_t>(0)

    /// The server shared by this test process, started on first use.
    public static func shared() async throws -> PostgresTestServer {
        try await sharedServer.value
    }

    private static let sharedServer = Task { try await ChildProcess.offPool { try PostgresTestServer() } }

    /// A server of the calling test's own, which it may stop and restart.
    public static func startPrivate() async throws -> PostgresTestServer {
        try await ChildProcess.offPool { try PostgresTestServer() }
    }

    private init() throws {
        guard let bin = Self.binaryFolder() else {
            throw PostgresTestServerError(
                "PostgreSQL's server binaries are not installed (no /usr/lib/postgresql/*/bin/initdb): run `make deps` (apt-get install postgresql)"
            )
        }
        self.bin = bin
        folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("ferry-pg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        // initdb and postgres refuse to run as root: hand the folder to `nobody` and run as it.
        asUser = getuid() == 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : []
        if getuid() == 0 { _ = chown(folder.path, 65534, 65534) }
        let initdb = try ChildProcess.run(
            asUser.first ?? "\(bin)/initdb",
            Array(asUser.dropFirst()) + (asUser.isEmpty ? [] : ["\(bin)/initdb"]) + [
                "-D", folder.appendingPathComponent("data").path, "-U", Self.user, "--auth=trust", "-E", "UTF8",
                "--no-sync", "--locale=C.UTF-8",
            ])
        guard initdb.status == 0 else {
            throw PostgresTestServerError("initdb failed (\(initdb.status)): \(initdb.output)")
        }
        // Every role is trusted except ``passwordUser``: the first matching line of pg_hba wins.
        let hba = folder.appendingPathComponent("data/pg_hba.conf")
        let rules = try String(contentsOf: hba, encoding: .utf8)
        try ("host all \(Self.passwordUser) 127.0.0.1/32 scram-sha-256\n" + rules).write(
            to: hba, atomically: false, encoding: .utf8)
        port = try S3TestServer.freePort()
        try startBlocking()
        PostgresTestServerExit.register(self)
    }

    private var dataFolder: String { folder.appendingPathComponent("data").path }

    /// Starts the server on its port and waits until it accepts connections.
    public func start() async throws {
        try await ChildProcess.offPool { try self.startBlocking() }
    }

    private func startBlocking() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let server = [
            "\(bin)/postgres", "-D", dataFolder, "-k", folder.path, "-h", "127.0.0.1", "-p", String(port),
            // A throwaway server: durability is not what these tests measure, speed is welcome.
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=500", "-c", "shared_buffers=32MB",
        ]
        // A shell minds the server: it stops it (a fast shutdown) when told to, or when the test
        // process is gone, however it ended. (`setpriv --pdeathsig` would tie the server to the
        // thread that started it, and test threads come and go.)
        let quoted = (asUser + server).map { "'\($0)'" }.joined(separator: " ")
        let minder = """
            \(quoted) & server=$!
            trap 'kill -INT $server; wait $server; exit 0' INT TERM
            while [ -d /proc/\(getpid()) ] && kill -0 $server 2>/dev/null; do sleep 1; done
            kill -INT $server 2>/dev/null; wait $server
            """
        process.arguments = ["sh", "-c", minder]
        let log = folder.appendingPathComponent("server.log")
        if !FileManager.default.fileExists(atPath: log.path) {
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        pid.withLock { $0 = process.processIdentifier }
        let deadline = Date().addingTimeInterval(60)
        while !S3TestServer.accepts(port) {
            guard Date() < deadline, process.isRunning else {
                let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                throw PostgresTestServerError("postgres did not start on 127.0.0.1:\(port): \(text)")
            }
            usleep(50_000)
        }
    }

    /// Stops the server: a fast shutdown (SIGINT), which ends every session, as a restart does.
    public func stop() async {
        _ = try? await ChildProcess.offPool { self.stopBlocking() }
    }

    /// Tells the server to stop (a fast shutdown) without waiting for it: a test's clean-up.
    public func abandon() {
        _ = signalStop()
    }

    /// Sends the minding shell SIGINT, once; returns its pid (0: not running).
    private func signalStop() -> pid_t {
        let pid = pid.withLock { pid in
            defer { pid = 0 }
            return pid
        }
        if pid > 0 { kill(pid, SIGINT) }
        return pid
    }

    fileprivate func stopBlocking() {
        let pid = signalStop()
        guard pid > 0 else { return }
        // The minding shell stops the server, waits for it and exits; whoever reaps the shell
        // (this call or Foundation), the server is down once the shell is gone and the port is free.
        let deadline = Date().addingTimeInterval(60)
        var status: Int32 = 0
        while Date() < deadline {
            let reaped = waitpid(pid, &status, WNOHANG)
            let gone = reaped == pid || (reaped == -1 && kill(pid, 0) != 0)
            if gone && !S3TestServer.accepts(port) { return }
            usleep(50_000)
        }
    }

    /// A new, empty database on this server; returns its URL for `database.url`.
    public func makeDatabase() async throws -> String {
        let name = "ferry_\(UUID().uuidString.prefix(8).lowercased())"
        let result = try await ChildProcess.runOffPool(
            "createdb", ["-h", "127.0.0.1", "-p", String(port), "-U", Self.user, name])
        guard result.status == 0 else {
            throw PostgresTestServerError("createdb \(name) failed: \(result.output)")
        }
        return url(of: name)
    }

    /// A new, empty database owned by ``passwordUser``; its URL carries the password.
    public func makePasswordDatabase() async throws -> String {
        let name = "ferry_\(UUID().uuidString.prefix(8).lowercased())"
        let role = try await psql(
            "postgres",
            """
            DO $$ BEGIN CREATE ROLE \(Self.passwordUser) LOGIN PASSWORD '\(Self.password)';
            EXCEPTION WHEN duplicate_object THEN NULL; END $$
            """)
        let database = try await psql("postgres", "CREATE DATABASE \(name) OWNER \(Self.passwordUser)")
        guard role.status == 0, database.status == 0 else {
            throw PostgresTestServerError(
                "cannot make \(name) for \(Self.passwordUser): \(role.output) \(database.output)")
        }
        var components = URLComponents()
        components.scheme = "postgres"
        components.user = Self.passwordUser
        components.password = Self.password
        components.host = "127.0.0.1"
        components.port = port
        components.path = "/" + name
        components.query = "sslmode=disable"
        return components.string!
    }

    public func url(of database: String) -> String {
        "postgres://\(Self.user)@127.0.0.1:\(port)/\(database)?sslmode=disable"
    }

    /// Runs SQL through psql on `database`, as an operator would; returns what psql printed.
    public func psql(_ database: String, _ sql: String) async throws -> (status: Int32, output: String) {
        try await ChildProcess.runOffPool("psql", psqlArguments(database, sql))
    }

    private func psqlArguments(_ database: String, _ sql: String) -> [String] {
        [
            "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port), "-U", Self.user,
            "-d", database, "-c", sql,
        ]
    }

    /// The server processes of `node`'s lease connection (its `application_name`), in `database`.
    public func leaseSessions(of node: String, in database: String) async throws -> [String] {
        let result = try await psql(
            database,
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'ferry lease \(node)'"
        )
        guard result.status == 0 else {
            throw PostgresTestServerError("psql could not list the lease sessions of \(node): \(result.output)")
        }
        return result.output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }

    static func binaryFolder() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        return versions.map { "\(root)/\($0)/bin" }.first {
            FileManager.default.isExecutableFile(atPath: "\($0)/initdb")
        }
    }
}

/// Stops the servers and removes their folders when the test process exits normally (a killed
/// test process leaves the folders; its servers still stop, through the death signal).
enum PostgresTestServerExit {
    private static let servers = Mutex<[PostgresTestServer]>([])
    private static let registered = Mutex(false)

    static func register(_ server: PostgresTestServer) {
        servers.withLock { $0.append(server) }
        let first = registered.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        atexit {
            for server in PostgresTestServerExit.servers.withLock({ $0 }) {
                server.stopBlocking()
                try? FileManager.default.removeItem(at: server.folder)
            }
        }
    }
}

public struct PostgresTestServerError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

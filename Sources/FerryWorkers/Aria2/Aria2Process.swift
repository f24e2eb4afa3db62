import FerryCore
import Foundation

/// One run of aria2c, started by the download worker: JSON-RPC on a loopback port with a secret
/// made for this run, its session file in the state folder, seeding and peer discovery as
/// configured. It stops by itself when the worker is gone (`--stop-with-process`), so a task can
/// never outlive the process that owns its job.
final class Aria2Process: @unchecked Sendable {
    // @unchecked: `process` is only touched by the engine actor that owns this object.
    private let process = Process()
    let port: Int
    let secret: String
    /// The options file that hands aria2c its secret (never its command line, which every local
    /// user can read); removed once aria2c has answered.
    let secretFile: String

    /// Starts aria2c. `session` is loaded when it exists and saved every second; the connect and
    /// idle timeouts are the downloads' own.
    init(downloads: DownloadSettings, session: String) throws {
        let settings = downloads.aria2
        port = try Self.freeLoopbackPort()
        secret = Self.makeSecret()
        secretFile = session + ".conf"
        try Self.writePrivately("rpc-secret=\(secret)\n", to: secretFile)
        process.executableURL = URL(fileURLWithPath: try Self.locate(settings.program))
        var arguments = [
            "--enable-rpc=true", "--rpc-listen-all=false", "--rpc-listen-port=\(port)",
            "--conf-path=\(secretFile)", "--rpc-max-request-size=16M", "--stop-with-process=\(getpid())",
            "--save-session=\(session)", "--save-session-interval=1", "--force-save=false",
            "--daemon=false", "--console-log-level=error", "--summary-interval=0", "--show-console-readout=false",
            "--continue=true", "--auto-file-renaming=false", "--allow-overwrite=false", "--remove-control-file=false",
            "--max-concurrent-downloads=64", "--bt-save-metadata=false", "--check-integrity=true",
            "--seed-ratio=\(settings.seedRatio)",
            "--enable-dht=\(settings.dht)", "--enable-dht6=\(settings.dht)",
            "--bt-enable-lpd=\(settings.localPeerDiscovery)", "--enable-peer-exchange=\(settings.dht)",
            "--follow-torrent=mem", "--follow-metalink=mem", "--max-tries=5", "--retry-wait=1",
            "--connect-timeout=\(Self.seconds(downloads.connectTimeout))",
            "--timeout=\(Self.seconds(downloads.idleTimeout))",
        ]
        arguments += Self.seedTime(settings)
        if FileManager.default.fileExists(atPath: session) { arguments.append("--input-file=\(session)") }
        process.arguments = arguments
        // aria2c writes to a log of its own, never to the worker's standard output (the channel to
        // the supervisor) nor its standard error: a pipe aria2c holds, or fills while the
        // supervisor no longer reads it, would keep the worker from ending.
        let log = session + ".log"
        if !FileManager.default.fileExists(atPath: log) {
            _ = FileManager.default.createFile(atPath: log, contents: nil)
        }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        defer { try? output.close() }
        try output.seekToEnd()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var isRunning: Bool { process.isRunning }
    var pid: Int32 { process.processIdentifier }

    /// Removes the secret's file (aria2c read it at start).
    func forgetSecretFile() {
        unlink(secretFile)
    }

    /// Ends aria2c at once (its session file keeps what it had).
    func stop() {
        forgetSecretFile()
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit {
        stop()
    }

    /// The path of `program`: itself when it names a path, else the first match on PATH.
    static func locate(_ program: String) throws -> String {
        let candidates =
            program.contains("/")
            ? [program]
            : (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map {
                "\($0)/\(program)"
            }
        guard let found = candidates.first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw Aria2Error.cannotStart(
                "\(program) is not an executable program: install Debian's aria2 package or set aria2.program")
        }
        return found
    }

    /// aria2 ends seeding at whichever limit comes first, and reads a ratio of 0 as "any ratio"
    /// and a time of 0 as "no seeding". So: neither set, no seeding (`--seed-time=0`); a ratio
    /// alone, no time limit (no `--seed-time`); a time alone, that long at any ratio; both, the
    /// first reached.
    static func seedTime(_ settings: Aria2Settings) -> [String] {
        if settings.seedTime == .zero && settings.seedRatio > 0 { return [] }
        return ["--seed-time=\(minutes(settings.seedTime))"]
    }

    /// aria2 takes its seeding time in minutes (fractions allowed).
    static func minutes(_ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return String(seconds / 60)
    }

    /// Writes `text` to a new file only its owner can read.
    static func writePrivately(_ text: String, to path: String) throws {
        unlink(path)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw Aria2Error.cannotStart("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        guard write(descriptor, bytes, bytes.count) == bytes.count else {
            throw Aria2Error.cannotStart("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// aria2 takes its timeouts in whole seconds, from 1 to 600.
    static func seconds(_ duration: Duration) -> Int {
        Int(min(600, max(1, duration.components.seconds)))
    }

    /// A port nobody listens on right now; aria2c binds it a moment later.
    static func freeLoopbackPort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Aria2Error.cannotStart("no socket: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(descriptor, socketAddress, length) == 0 && getsockname(descriptor, socketAddress, &length) == 0
            }
        }
        guard bound else { throw Aria2Error.cannotStart("no free port: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// 32 random hexadecimal characters, new for every start of aria2c.
    static func makeSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in String(format: "%08x", UInt32.random(in: .min ... .max, using: &generator)) }
            .joined()
    }
}

/// Why the aria2 engine could not do what a job needed.
enum Aria2Error: Error, CustomStringConvertible {
    case cannotStart(String)

    var description: String {
        switch self {
        case .cannotStart(let reason): "aria2c cannot be started: \(reason)"
        }
    }
}

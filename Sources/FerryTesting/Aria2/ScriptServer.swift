public import Foundation

/// A Python test server from this folder, run as a child: started with its arguments and the
/// path of a file it writes (atomically) once it serves, killed with the object.
public final class ScriptServer: @unchecked Sendable {
    let process = Process()
    /// What the server wrote into its ready file.
    public let ready: Data

    public init(script: String, arguments: [String], timeout: TimeInterval = 30) throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(script).path
        let readyFile = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-ready-\(UUID())")
        defer { try? FileManager.default.removeItem(at: readyFile) }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            ["python3", path] + arguments.map { $0 == ScriptServer.readyFileArgument ? readyFile.path : $0 }
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        var ready: Data?
        while ready == nil && Date() < deadline && process.isRunning {
            ready = try? Data(contentsOf: readyFile)
            if ready == nil { usleep(50_000) }
        }
        guard let ready else {
            kill(process.processIdentifier, SIGKILL)
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: "\(script) did not start"])
        }
        self.ready = ready
    }

    /// The port a server wrote as its ready file.
    public func port() throws -> Int {
        guard let port = Int(String(decoding: ready, as: UTF8.self)) else { throw CocoaError(.fileReadCorruptFile) }
        return port
    }

    /// Stands for the ready file's path in `arguments`.
    public static let readyFileArgument = "{ready-file}"

    deinit {
        // SIGKILL: the runner's blocked or ignored SIGTERM is inherited by what it spawns.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

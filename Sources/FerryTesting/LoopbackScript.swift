import Foundation

/// Starts one of the Python loopback servers beside this file (`Origin/`, `BotAPI/`) and waits
/// for the port it writes once it listens (see `Origin/loopback.py`).
enum LoopbackScript {
    /// Runs `script` (relative to this folder) with a port file and `arguments`; returns the port.
    static func start(_ process: Process, script: String, arguments: [String] = []) throws -> Int {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(script)
        let portFile = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-loopback-port-\(UUID())")
        defer { try? FileManager.default.removeItem(at: portFile) }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", path.path, portFile.path] + arguments
        try process.run()
        // The server writes its port atomically once it listens.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && process.isRunning {
            if let port = (try? String(contentsOf: portFile, encoding: .utf8)).flatMap({ Int($0) }) { return port }
            usleep(20_000)
        }
        kill(process.processIdentifier, SIGKILL)
        throw CocoaError(.fileReadNoSuchFile)
    }
}

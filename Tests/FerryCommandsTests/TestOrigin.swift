import Foundation

/// The Python origin in `Origin/test_origin.py`, serving deterministic content on loopback.
final class TestOrigin {
    let process = Process()
    let port: Int

    init() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Origin/test_origin.py")
        let portFile = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-origin-port-\(UUID())")
        defer { try? FileManager.default.removeItem(at: portFile) }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, portFile.path]
        try process.run()
        // The origin writes its port atomically once it listens.
        let deadline = Date().addingTimeInterval(10)
        var port: Int?
        while port == nil && Date() < deadline && process.isRunning {
            port = (try? String(contentsOf: portFile, encoding: .utf8)).flatMap { Int($0) }
            if port == nil { usleep(20_000) }
        }
        guard let port else {
            kill(process.processIdentifier, SIGKILL)
            throw CocoaError(.fileReadNoSuchFile)
        }
        self.port = port
    }

    func url(size: Int, rate: Int = 0, stallAfter: Int? = nil) -> String {
        "http://127.0.0.1:\(port)/file/\(size)?rate=\(rate)" + (stallAfter.map { "&stall=\($0)" } ?? "")
    }

    /// The SHA-256 of what `/file/<size>` serves, computed by the system's sha256sum.
    static func sha256(size: Int) throws -> String {
        let pattern = (0..<251).map { UInt8($0) }
        var body = [UInt8]()
        body.reserveCapacity(size)
        while body.count < size { body += pattern.prefix(size - body.count) }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-origin-\(UUID())")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(body).write(to: file)
        return try sha256(ofFile: file.path)
    }

    static func sha256(ofFile path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = try output.fileHandleForReading.readToEnd() ?? Data()
        process.waitUntilExit()
        return String(String(decoding: data, as: UTF8.self).prefix(64))
    }

    deinit {
        // SIGKILL: the runner's blocked or ignored SIGTERM is inherited by what it spawns.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

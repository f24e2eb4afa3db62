import Foundation
import Testing

/// Runs the real `ferry` binary built next to the test bundle.
enum FerryProcess {
    /// The built `ferry` executable (the test bundle and the product share a build folder).
    static var executable: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("ferry")
    }

    struct Output {
        var status: Int32
        var standardOutput: String
        var standardError: String
    }

    /// Runs `ferry arguments…` to completion in `directory`.
    static func run(
        _ arguments: [String], in directory: URL, environment: [String: String] = [:]
    ) throws -> Output {
        let process = try start(arguments, in: directory, environment: environment)
        let output = try process.standardOutput.readToEnd() ?? Data()
        let error = try process.standardError.readToEnd() ?? Data()
        process.process.waitUntilExit()
        return Output(
            status: process.process.terminationStatus, standardOutput: String(decoding: output, as: UTF8.self),
            standardError: String(decoding: error, as: UTF8.self))
    }

    struct Running {
        var process: Process
        var standardOutput: FileHandle
        var standardError: FileHandle
    }

    /// Starts `ferry arguments…` with a clean environment (no FERRY_ variables leak in) and the
    /// admin API on a free port.
    /// A long-running process logs to `serve.out`/`serve.err` in `logDirectory` instead of pipes,
    /// which nobody drains while it runs and which would block it once full.
    static func start(
        _ arguments: [String], in directory: URL, environment: [String: String] = [:], logDirectory: URL? = nil
    ) throws -> Running {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var base = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("FERRY_")
                && !["NOTIFY_SOCKET", "STATE_DIRECTORY", "CONFIGURATION_DIRECTORY"].contains($0.key)
        }
        // Any free port for the admin API, unless a test asks for one: never the real 8080.
        base["FERRY_HTTP_PORT"] = "0"
        base.merge(environment) { $1 }
        process.environment = base
        if let logDirectory {
            let paths = ["serve.out", "serve.err"].map { logDirectory.appendingPathComponent($0).path }
            for path in paths { _ = FileManager.default.createFile(atPath: path, contents: nil) }
            process.standardOutput = FileHandle(forWritingAtPath: paths[0])
            process.standardError = FileHandle(forWritingAtPath: paths[1])
            try process.run()
            guard let output = FileHandle(forReadingAtPath: paths[0]),
                let error = FileHandle(forReadingAtPath: paths[1])
            else { throw CocoaError(.fileReadUnknown) }
            return Running(process: process, standardOutput: output, standardError: error)
        }
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        return Running(
            process: process, standardOutput: output.fileHandleForReading, standardError: error.fileHandleForReading)
    }
}

/// A temporary folder for one test.
struct Scratch {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func write(_ text: String, to name: String) throws -> String {
        let path = url.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

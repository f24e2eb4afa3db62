public import Foundation

/// Runs a program to completion for a test and returns its exit status and everything it
/// printed (standard output and error together).
public enum ChildProcess {
    /// - Parameters:
    ///   - program: looked up on PATH (`python3`, `promtool`, `schemathesis`).
    ///   - input: written to its standard input, which is then closed.
    public static func run(
        _ program: String, _ arguments: [String], input: String? = nil, in directory: URL? = nil
    ) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        if let directory { process.currentDirectoryURL = directory }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
        let text = String(decoding: try output.fileHandleForReading.readToEnd() ?? Data(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    /// ``run(_:_:input:in:)`` on a thread of its own: an async test that waits for a slow child
    /// this way does not hold one of the few threads every test's tasks share (two on a 2-core
    /// machine), which would stall the tests running beside it.
    public static func runOffPool(
        _ program: String, _ arguments: [String], input: String? = nil, in directory: URL? = nil
    ) async throws -> (status: Int32, output: String) {
        try await offPool { try run(program, arguments, input: input, in: directory) }
    }

    /// Waits for `process` to end, on a thread of its own.
    public static func waitUntilExit(_ process: Process) async {
        _ = try? await offPool { process.waitUntilExit() }
    }

    /// Runs `work`, which blocks (waits for a child, polls with `usleep`), on a thread of its own.
    public static func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try work() }) }.start()
        }
    }
}

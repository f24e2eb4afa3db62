import CProcessControl
import Foundation
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// A worker process the supervisor spawned itself, and the pipe ends it keeps.
///
/// Spawned with posix_spawn rather than swift-subprocess: `Subprocess.run` keeps a task that
/// wakes every second for as long as its child lives, one wake-up a second per worker for an
/// idle supervisor (BENCHMARKS.md, "Idle wake-ups"). Here nothing wakes while a worker is idle:
/// its pipes are watched by the event loop, and its exit by a thread blocked in `waitid`.
struct WorkerProcess: Sendable {
    let pid: Int32
    /// The supervisor's ends: the worker's standard input (write), output and error (read).
    let input: Int32
    let output: Int32
    let error: Int32

    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts `executable` with `arguments` in a process group of its own, from a thread of NIO's
    /// blocking pool. The worker asks the kernel to kill it when its parent *thread* exits
    /// (PR_SET_PDEATHSIG): a thread of the cooperative pool ends after a few idle seconds, and its
    /// workers with it, while the blocking pool's threads live as long as the supervisor.
    static func spawn(
        executable: String, arguments: [String], environment: [String: String] = [:]
    ) async throws -> WorkerProcess {
        try await NIOThreadPool.singleton.runIfActive {
            try spawnHere(executable: executable, arguments: arguments, adding: environment)
        }
    }

    /// Starts the worker from the calling thread; its death kills the worker. The environment is
    /// the supervisor's plus `adding`, without systemd's variables: a worker must not talk to
    /// systemd in its name.
    private static func spawnHere(
        executable: String, arguments: [String], adding: [String: String]
    ) throws(SpawnError) -> WorkerProcess {
        var environment = ProcessInfo.processInfo.environment.merging(adding) { $1 }
        for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID"] {
            environment[name] = nil
        }
        var pipes: [(read: Int32, write: Int32)] = []
        func closeAll() {
            for pipe in pipes {
                close(pipe.read)
                close(pipe.write)
            }
        }
        for stream in ["standard input", "standard output", "standard error"] {
            var ends: [Int32] = [-1, -1]
            let failure = ferry_pipe(&ends)
            guard failure == 0 else {
                let reason = String(cString: strerror(failure))
                closeAll()
                throw SpawnError(
                    description:
                        "cannot make a pipe for the worker's \(stream): \(reason) (the supervisor may be out of file descriptors; raise LimitNOFILE)"
                )
            }
            pipes.append((ends[0], ends[1]))
        }
        let argv = [executable] + arguments
        let envp = environment.map { "\($0.key)=\($0.value)" }
        var pid: Int32 = 0
        let status = withCStrings(argv) { argv in
            withCStrings(envp) { envp in
                ferry_spawn_worker(executable, argv, envp, pipes[0].read, pipes[1].write, pipes[2].write, &pid)
            }
        }
        // The child has its own copies of its ends now (or never will).
        close(pipes[0].read)
        close(pipes[1].write)
        close(pipes[2].write)
        guard status == 0 else {
            close(pipes[0].write)
            close(pipes[1].read)
            close(pipes[2].read)
            throw SpawnError(
                description:
                    "cannot start \(executable): \(String(cString: strerror(status))) (check that the file exists and is executable)"
            )
        }
        return WorkerProcess(pid: pid, input: pipes[0].write, output: pipes[1].read, error: pipes[2].read)
    }

    /// Returns once the worker has ended, without reaping it; a thread waits, so that nothing
    /// polls in the meantime.
    func ended() async {
        let pid = pid
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                _ = ferry_wait_for_exit(pid)
                continuation.resume()
            }
        }
    }

    /// Reaps the ended worker and says how it ended. Call after ``ended()``.
    func reap() -> (exitCode: Int32?, signal: Int32?) {
        var status: Int32 = 0
        var result: Int32
        repeat { result = waitpid(pid, &status, 0) } while result == -1 && errno == EINTR
        guard result == pid else { return (nil, nil) }
        // The <sys/wait.h> macros are not imported into Swift: the status word, decoded.
        let signal = status & 0x7f
        return signal == 0 ? ((status >> 8) & 0xff, nil) : (nil, signal)
    }

    /// Sends `signal` to the worker's process group (the worker and anything it started). Only
    /// before ``reap()``: until then the group's id cannot belong to anyone else.
    func signalGroup(_ signal: Int32) {
        kill(-pid, signal)
    }
}

/// Calls `body` with a NULL-terminated array of C strings, valid during the call.
private func withCStrings<T>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> T) -> T {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers)
}

import FerryCore
import Foundation
import Subprocess

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// What the supervisor sends into a running worker's channel.
enum WorkerInput: Sendable {
    case message(SupervisorMessage)
    /// A signal to the worker's process group (the worker and anything it started).
    case signal(Int32)
}

/// What a worker's channel reports back to the supervisor.
enum WorkerEvent: Sendable {
    case spawned(WorkerID, pid: Int32)
    case message(WorkerID, WorkerMessage)
    case violation(WorkerID, ProtocolError)
    case exited(WorkerID, WorkerTermination)
}

/// How a worker process ended, as the operating system reported it.
struct WorkerTermination: Sendable {
    var exitCode: Int32?
    var signal: Int32?
    var stderrTail: String?
    /// Set when the process could not be started at all.
    var spawnError: String?
}

/// Starts one worker process — the same binary, `ferry worker …` — in its own process group,
/// with its standard input and output as the control channel and its standard error kept for
/// crash reports, and runs the channel until the process has exited and been reaped.
struct WorkerLauncher: Sendable {
    var executable: String
    var arguments: [String]
    var id: WorkerID

    /// Runs the worker to its end. Events go to `events`; `inputs` carries messages and signals.
    ///
    /// - Important: Spawns from the main thread. The worker asks the kernel to kill it when its
    ///   parent *thread* exits (PR_SET_PDEATHSIG), and threads of the cooperative pool come and go;
    ///   the main thread lives exactly as long as the supervisor.
    @MainActor
    func run(inputs: AsyncStream<WorkerInput>, events: AsyncStream<WorkerEvent>.Continuation) async {
        var platform = PlatformOptions()
        platform.processGroupID = 0
        // The worker must not talk to systemd in the supervisor's name.
        let environment = Environment.inherit.updating([
            "NOTIFY_SOCKET": nil, "WATCHDOG_USEC": nil, "WATCHDOG_PID": nil, "LISTEN_FDS": nil, "LISTEN_PID": nil,
        ])
        let configuration = Configuration(
            executable: .path(FilePath(executable)), arguments: Arguments(arguments), environment: environment,
            platformOptions: platform)
        let id = self.id
        do {
            let result = try await Subprocess.run(
                configuration, input: .inputWriter, output: .sequence, error: .sequence
            ) { execution in
                events.yield(.spawned(id, pid: execution.processIdentifier.value))
                return await Self.runChannel(execution, id: id, inputs: inputs, events: events)
            }
            var termination = WorkerTermination(stderrTail: result.closureResult)
            switch result.terminationStatus {
            case .exited(let code): termination.exitCode = code
            case .signaled(let signal): termination.signal = signal
            }
            events.yield(.exited(id, termination))
        } catch {
            events.yield(.exited(id, WorkerTermination(spawnError: "\(error)")))
        }
    }

    /// Pumps the channel: inputs to the worker, its lines to events, its errors to the tail.
    private static func runChannel(
        _ execution: Execution<CustomWriteInput, SequenceOutput, SequenceOutput>,
        id: WorkerID,
        inputs: AsyncStream<WorkerInput>,
        events: AsyncStream<WorkerEvent>.Continuation
    ) async -> String? {
        // The input pump answers nil, the standard-error reader the tail (possibly empty).
        await withTaskGroup(of: String?.self) { group in
            group.addTask {
                for await input in inputs {
                    switch input {
                    case .message(let message):
                        let line = Array(MessageCodec.encode(message))
                        guard (try? await execution.standardInputWriter.write(line)) != nil else { return nil }
                    case .signal(let signal):
                        try? execution.send(signal: Signal(rawValue: signal), toProcessGroup: true)
                    }
                }
                return nil
            }
            group.addTask {
                var tail = StandardErrorTail(capacity: 20)
                do {
                    for try await chunk in execution.standardError { chunk.withUnsafeBytes { tail.append($0) } }
                } catch {}
                return tail.text ?? ""
            }
            var splitter = LineSplitter(maximumLineLength: MessageCodec.maximumLineLength)
            do {
                for try await chunk in execution.standardOutput {
                    guard let lines = chunk.withUnsafeBytes({ splitter.append($0) }) else {
                        events.yield(.violation(id, ProtocolError(.tooLong, "the worker wrote an endless line")))
                        continue
                    }
                    for line in lines {
                        do throws(ProtocolError) {
                            events.yield(.message(id, try MessageCodec.decodeWorkerMessage(line)))
                        } catch {
                            events.yield(.violation(id, error))
                        }
                    }
                }
            } catch {}
            // Standard output closed: the worker is exiting. Its standard error ends with it; then
            // the input pump has nobody left to write to.
            var tail: String?
            for await value in group {
                guard let value else { continue }
                tail = value.isEmpty ? nil : value
                group.cancelAll()
            }
            return tail
        }
    }
}

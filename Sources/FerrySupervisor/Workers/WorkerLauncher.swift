import FerryCore
import Foundation
import NIOCore
import NIOPosix

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
    /// Added to the supervisor's environment.
    var environment: [String: String] = [:]
    var id: WorkerID

    /// After a worker ended, how long its pipes may stay open before they are closed: a process it
    /// started may have inherited them and outlive it.
    static let pipesGrace: Duration = .seconds(2)

    /// Runs the worker to its end. Events go to `events`; `inputs` carries messages and signals.
    func run(inputs: AsyncStream<WorkerInput>, events: AsyncStream<WorkerEvent>.Continuation) async {
        let process: WorkerProcess
        do {
            process = try await WorkerProcess.spawn(
                executable: executable, arguments: arguments, environment: environment)
        } catch {
            events.yield(.exited(id, WorkerTermination(spawnError: "\(error)")))
            return
        }
        events.yield(.spawned(id, pid: process.pid))
        // One thread waits for the exit; the pipes' grace and the reap both wait on it.
        let exited = Task { await process.ended() }
        let tail = await Self.runChannel(process, exited: exited, id: id, inputs: inputs, events: events)
        await exited.value
        let status = process.reap()
        events.yield(.exited(id, WorkerTermination(exitCode: status.exitCode, signal: status.signal, stderrTail: tail)))
    }

    /// Pumps the channel: inputs to the worker, its lines to events, its errors to the tail.
    /// Returns once the worker's standard output and error have ended.
    private static func runChannel(
        _ process: WorkerProcess, exited: Task<Void, Never>, id: WorkerID, inputs: AsyncStream<WorkerInput>,
        events: AsyncStream<WorkerEvent>.Continuation
    ) async -> String? {
        let bootstrap = NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        let control: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        let errors: NIOAsyncChannel<ByteBuffer, Never>
        do {
            control = try await bootstrap.takingOwnershipOfDescriptors(input: process.output, output: process.input) {
                channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel(wrappingChannelSynchronously: channel) }
            }
        } catch {
            close(process.output)
            close(process.input)
            close(process.error)
            process.signalGroup(SIGKILL)
            return "the supervisor could not watch the worker's pipes: \(error)"
        }
        do {
            errors = try await bootstrap.takingOwnershipOfDescriptor(input: process.error) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel(wrappingChannelSynchronously: channel) }
            }
        } catch {
            close(process.error)
            process.signalGroup(SIGKILL)
            try? await control.channel.close()
            return "the supervisor could not watch the worker's standard error: \(error)"
        }
        do {
            return try await control.executeThenClose { output, input in
                try await errors.executeThenClose { errorOutput, _ in
                    await pump(
                        process, exited: exited, id: id, inputs: inputs, events: events,
                        channels: (control.channel, errors.channel), output: output, input: input,
                        errorOutput: errorOutput)
                }
            }
        } catch {
            return nil
        }
    }

    /// The channel's work, once its pipes are open: the input pump answers nil, the standard-error
    /// reader the tail (possibly empty).
    private static func pump(
        _ process: WorkerProcess, exited: Task<Void, Never>, id: WorkerID, inputs: AsyncStream<WorkerInput>,
        events: AsyncStream<WorkerEvent>.Continuation, channels: (any Channel, any Channel),
        output: NIOAsyncChannelInboundStream<ByteBuffer>, input: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        errorOutput: NIOAsyncChannelInboundStream<ByteBuffer>
    ) async -> String? {
        await withTaskGroup(of: String?.self) { group in
            group.addTask {
                // A process the worker started may hold its pipes open after it ended: give the
                // last lines a moment to arrive, then close them.
                await exited.value
                try? await Task.sleep(for: pipesGrace)
                try? await channels.0.close()
                try? await channels.1.close()
                return nil
            }
            group.addTask {
                for await message in inputs {
                    switch message {
                    case .message(let message):
                        let line = ByteBuffer(bytes: MessageCodec.encode(message))
                        guard (try? await input.write(line)) != nil else { return nil }
                    case .signal(let signal):
                        process.signalGroup(signal)
                    }
                }
                return nil
            }
            group.addTask {
                var tail = StandardErrorTail(capacity: 20)
                do {
                    for try await chunk in errorOutput {
                        chunk.withUnsafeReadableBytes { tail.append($0) }
                    }
                } catch {}
                return tail.text ?? ""
            }
            var splitter = LineSplitter(maximumLineLength: MessageCodec.maximumLineLength)
            do {
                for try await chunk in output {
                    guard let lines = chunk.withUnsafeReadableBytes({ splitter.append($0) }) else {
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

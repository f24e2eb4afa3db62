import FerryCore
import FerrySupervisor
import Foundation
import HTTPTypes
import Hummingbird
import ServiceLifecycle

/// `GET /api/events`: a server-sent event stream of job and worker changes, for the admin page
/// and for scripts that would otherwise poll.
///
/// Job events come from the store's event log (every transition of every job, whoever made it),
/// so nothing is missed and a client reconnecting with `Last-Event-ID` resumes where it left off.
/// Worker events are sent when the fleet's shape changes (a worker started, stopped, drained, a
/// role began or stopped crash-looping), and `progress` events when a running job's byte count
/// moved (the supervisor records it about once a second), for live bars in the CLI and the page.
struct EventsController {
    let dependencies: AdminDependencies

    /// How often the event log and the fleet are looked at.
    static let pollInterval: Duration = .milliseconds(500)
    /// A comment line at least this often keeps proxies from closing a quiet stream.
    static let keepAlive: Duration = .seconds(15)

    func register(in routes: RouteRegistry) {
        routes.get("/api/events") { request, _ in try await stream(request) }
    }

    private func stream(_ request: Request) async throws -> Response {
        let store = dependencies.store
        let supervisor = dependencies.supervisor
        var start: Int64
        if let header = request.headers[HTTPField.Name("Last-Event-ID")!], let resumeFrom = Int64(header) {
            start = resumeFrom
        } else {
            do {
                start = try await store.lastEventID()
            } catch {
                throw APIError.from(error)
            }
        }
        let body = ResponseBody { [start] writer in
            var lastID = start
            var lastFleet = ""
            var sentProgress: [JobID: Int64] = [:]
            var lastWrite = ContinuousClock.now
            try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                var text = ""
                let events = (try? await store.events(after: lastID, limit: 500)) ?? []
                for event in events {
                    text += Self.frame(id: "\(event.id)", event: "job", data: EventResource(event))
                    lastID = event.id
                }
                // Bytes moved by running jobs (the supervisor records them about once a second):
                // a `progress` event per job whose count changed, for bars that move live.
                let running =
                    (try? await store.jobs(matching: JobQuery(states: [.running, .storing], limit: 1000))) ?? []
                var stillRunning: [JobID: Int64] = [:]
                for job in running {
                    stillRunning[job.id] = job.progress.bytesDone
                    if sentProgress[job.id] != job.progress.bytesDone {
                        text += Self.frame(id: nil, event: "progress", data: ProgressMessage(job))
                    }
                }
                sentProgress = stillRunning
                let fleet = FleetMessage(await supervisor.fleetSnapshot())
                if fleet.signature != lastFleet {
                    lastFleet = fleet.signature
                    text += Self.frame(id: nil, event: "workers", data: fleet)
                }
                if text.isEmpty && ContinuousClock.now - lastWrite >= Self.keepAlive { text = ": keep-alive\n\n" }
                if !text.isEmpty {
                    try await writer.write(ByteBuffer(string: text))
                    lastWrite = .now
                }
                try? await Task.sleep(for: Self.pollInterval)
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store",
                HTTPField.Name("X-Accel-Buffering")!: "no",
            ],
            body: body)
    }

    static func frame(id: String?, event: String, data: some Encodable) -> String {
        let json = (try? JSONResponse.encoder.encode(data)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return (id.map { "id: \($0)\n" } ?? "") + "event: \(event)\ndata: \(json)\n\n"
    }
}

/// How far a running job has got, as `progress` events carry it.
struct ProgressMessage: Encodable {
    var jobId: Int64
    var kind: String
    var state: String
    var bytesDone: Int64
    var bytesTotal: Int64?

    init(_ job: Job) {
        jobId = job.id.rawValue
        kind = job.kind.rawValue
        state = job.state.rawValue
        bytesDone = job.progress.bytesDone
        bytesTotal = job.progress.bytesTotal
    }
}

/// The fleet's shape: which workers exist in which state, and which roles crash-loop.
struct FleetMessage: Encodable {
    struct Worker: Encodable {
        var id: String
        var role: String
        var pid: Int32?
        var state: String
    }

    var workers: [Worker]
    var crashLooping: [String]

    init(_ snapshot: FleetSnapshot) {
        workers = snapshot.workers.map {
            Worker(
                id: $0.id.rawValue, role: $0.role.rawValue, pid: $0.pid,
                state: $0.draining ? "draining" : ($0.ready ? "ready" : "starting"))
        }
        crashLooping = snapshot.roles.filter(\.crashLooping).map(\.role.rawValue)
    }

    /// Changes exactly when a client should hear about it.
    var signature: String {
        workers.map { "\($0.id)/\($0.pid ?? 0)/\($0.state)" }.joined(separator: ",") + "|"
            + crashLooping.joined(separator: ",")
    }
}

import FerryCore
import FerrySupervisor
import Foundation
import Hummingbird

/// `GET /api/workers` and `POST /api/workers/{role}/restart`.
struct WorkersController {
    let dependencies: AdminDependencies

    func register(in routes: RouteRegistry) {
        routes.get("/api/workers") { _, _ in try await list() }
        routes.post("/api/workers/:role/restart") { _, context in try await restart(context) }
    }

    private func list() async throws -> Response {
        let supervisor = dependencies.supervisor
        let snapshot = await supervisor.fleetSnapshot()
        let latest = await supervisor.metrics.latest()
        // The previous generation's records (from before a restart of the daemon) come from the store.
        let records = (try? await dependencies.store.workers(includeExited: true, limit: 50)) ?? []
        return try JSONResponse.make(
            WorkersResource(snapshot: snapshot, sample: latest, records: records, now: Date()))
    }

    private func restart(_ context: AdminContext) async throws -> Response {
        let name = context.parameters.get("role") ?? ""
        guard let role = WorkerRole(rawValue: name) else {
            let known = WorkerRole.allCases.map(\.rawValue).joined(separator: ", ")
            throw APIError.notFound("role \"\(name)\" (roles: \(known))")
        }
        await dependencies.supervisor.restartWorkers(of: role)
        return try JSONResponse.make(
            [
                "role": role.rawValue,
                "status": "restarting: each worker finishes its jobs, then a fresh one replaces it",
            ],
            status: .accepted)
    }
}

/// The fleet as `GET /api/workers` shows it.
struct WorkersResource: Encodable {
    struct Role: Encodable {
        var role: String
        var wanted: Int
        var up: Int
        var restarts: Int
        var crashLooping: Bool
        var lastCause: String?
        var stalls: Int
    }

    struct Worker: Encodable {
        var id: String
        var role: String
        var pid: Int32?
        var state: String
        var heartbeatAgeSeconds: Double?
        var jobs: [Int64]
        /// Its jobs waiting for their turn under a rate limit (a Telegram chat's flood control).
        var waitingJobs: [Int64]
        var finishedJobs: Int
        var stalled: Bool
        var cpuSeconds: Double?
        var cpuRatio: Double?
        var residentBytes: Int?
        var openFds: Int?
        var threads: Int?
        var uptimeSeconds: Double?
    }

    struct Exit: Encodable {
        var worker: String
        var role: String
        var pid: Int32?
        var at: Date
        var uptimeSeconds: Double
        var cause: String
        var exitCode: Int32?
        var signal: Int32?
        var restartDelaySeconds: Double
        var stderrTail: String?
    }

    struct Record: Encodable {
        var id: String
        var role: String
        var pid: Int32?
        var startedAt: Date
        var lastHeartbeatAt: Date?
        var exitedAt: Date?
        var exitReason: String?
    }

    var roles: [Role]
    var workers: [Worker]
    var recentExits: [Exit]
    /// Persisted worker records, newest first, including those of the daemon's previous run.
    var history: [Record]

    init(snapshot: FleetSnapshot, sample: MetricsSnapshot?, records: [WorkerRecord], now: Date) {
        roles = snapshot.roles.map {
            Role(
                role: $0.role.rawValue, wanted: $0.wanted, up: $0.up, restarts: $0.restarts,
                crashLooping: $0.crashLooping, lastCause: $0.lastCause?.rawValue, stalls: $0.stalls)
        }
        workers = snapshot.workers.map { worker in
            let process = sample?.processes[worker.id.rawValue]
            return Worker(
                id: worker.id.rawValue, role: worker.role.rawValue, pid: worker.pid,
                state: worker.draining ? "draining" : (worker.ready ? "ready" : "starting"),
                heartbeatAgeSeconds: worker.heartbeatAge.map { $0.inSeconds.rounded(toPlaces: 3) },
                jobs: worker.jobs.map(\.rawValue), waitingJobs: worker.waitingForTurn.keys.map(\.rawValue).sorted(),
                finishedJobs: worker.finishedJobs, stalled: worker.stalled,
                cpuSeconds: process?.cpuSeconds, cpuRatio: process?.cpuFraction, residentBytes: process?.residentBytes,
                openFds: process?.openFileDescriptors, threads: process?.threads, uptimeSeconds: process?.uptimeSeconds)
        }
        recentExits = snapshot.recentExits.reversed().map {
            Exit(
                worker: $0.worker.rawValue, role: $0.role.rawValue, pid: $0.pid, at: $0.at,
                uptimeSeconds: $0.uptime.inSeconds.rounded(toPlaces: 3), cause: $0.cause.rawValue,
                exitCode: $0.exitCode,
                signal: $0.signal, restartDelaySeconds: $0.restartDelay.inSeconds.rounded(toPlaces: 3),
                stderrTail: $0.stderrTail.map(SecretRedaction.text))
        }
        history = records.map {
            Record(
                id: $0.id.rawValue, role: $0.role.rawValue, pid: $0.pid, startedAt: $0.startedAt,
                lastHeartbeatAt: $0.lastHeartbeatAt, exitedAt: $0.exit?.at, exitReason: $0.exit?.reason)
        }
    }
}

import FerryCore
import FerrySupervisor
import Foundation
import Hummingbird

/// `/healthz`, `/readyz`, `/api/health/system`, `/api/health/sync[/detailed]` and `/metrics`.
struct HealthController {
    let dependencies: AdminDependencies
    /// Health changes with the samples and the status tick; half a second old is still current.
    private let systemCache = AnswerCache(lifetime: .milliseconds(500))
    private let syncCache = AnswerCache(lifetime: .milliseconds(500))
    private let detailedCache = AnswerCache(lifetime: .milliseconds(500))

    init(dependencies: AdminDependencies) {
        self.dependencies = dependencies
    }

    func register(in routes: RouteRegistry) {
        routes.get("/healthz") { _, _ in try JSONResponse.make(["status": "pass"]) }
        routes.get("/readyz") { _, _ in try await readiness() }
        routes.get("/api/health/system") { _, _ in try await systemCache.answer { try await system() } }
        routes.get("/api/health/sync") { _, _ in try await syncCache.answer { try await sync(detailed: false) } }
        routes.get("/api/health/sync/detailed") { _, _ in
            try await detailedCache.answer { try await sync(detailed: true) }
        }
        routes.get("/metrics") { _, _ in metrics() }
    }

    private func readiness() async throws -> Response {
        let ready = await dependencies.supervisor.isReady
        return try JSONResponse.make(
            ["status": ready ? "pass" : "fail"], status: ready ? .ok : .serviceUnavailable)
    }

    private func system() async throws -> AnswerCache.Answer {
        let supervisor = dependencies.supervisor
        let health = SystemHealth(
            ready: await supervisor.isReady, uptime: ContinuousClock.now - supervisor.startedAtInstant,
            fleet: await supervisor.fleetSnapshot(),
            samples: await supervisor.metrics.history(), writeProbe: await supervisor.lastWriteProbe,
            backup: await supervisor.backups?.status, hangTimeout: dependencies.hangTimeout,
            diskFullHorizon: dependencies.diskFullHorizon, now: Date(), telegram: await supervisor.telegramStatus(),
            cluster: await ClusterView.read(supervisor))
        let document = health.document()
        return AnswerCache.Answer(
            status: document.status == .fail ? .serviceUnavailable : .ok,
            contentType: "application/health+json; charset=utf-8",
            body: ByteBuffer(bytes: try JSONResponse.camelCaseEncoder.encode(document)))
    }

    private func sync(detailed: Bool) async throws -> AnswerCache.Answer {
        let orphans = try await runningWithoutLiveOwner()
        let counts: [QueueCount]
        do {
            counts = try await dependencies.supervisor.queueCounts()
        } catch {
            throw APIError.from(error)
        }
        let now = Date()
        let store = dependencies.store
        let stuckAfter = dependencies.stuckAfter
        var health = try await SyncHealth(
            counts: counts, orphans: orphans, stuckAfter: stuckAfter, now: now, detailed: detailed
        ) { kinds in
            var jobs: [Job] = []
            for kind in kinds {
                do {
                    jobs += try await store.jobs(
                        matching: JobQuery(
                            kind: kind, states: [.queued, .temporary], dueBefore: now - stuckAfter.inSeconds,
                            oldestFirst: true, limit: 20))
                } catch let error as StoreError {
                    throw APIError.from(error)
                }
            }
            return jobs
        }
        health.lastCleanup = try? await dependencies.supervisor.served.cleanup.lastCleanupRun()
        if let last = health.lastCleanup, last.state == .failed {
            health.notes.append("the last cleanup run failed: \(last.error ?? "no reason recorded")")
            if health.status == .pass { health.status = .warn }
        }
        return AnswerCache.Answer(
            status: health.status == .fail ? .serviceUnavailable : .ok,
            contentType: "application/health+json; charset=utf-8",
            body: ByteBuffer(bytes: try JSONResponse.encoder.encode(health)))
    }

    /// Running jobs whose owner is not a live worker. The fleet is read before the store and
    /// again after it, so a worker started in between does not look like a violation.
    private func runningWithoutLiveOwner() async throws -> [Job] {
        let before = Set(await dependencies.supervisor.fleetSnapshot().workers.map(\.id))
        let running: [Job]
        do {
            running = try await dependencies.store.jobs(
                matching: JobQuery(states: [.running, .storing], limit: 10_000))
        } catch {
            throw APIError.from(error)
        }
        let after = Set(await dependencies.supervisor.fleetSnapshot().workers.map(\.id))
        let live = before.union(after)
        // On a shared queue, other nodes' jobs are theirs to judge: only this node's workers count.
        let mine = dependencies.supervisor.nodeLease.map { "@\($0.identity.name)" }
        return running.filter { job in
            guard let owner = job.owner else { return true }
            if let mine, !owner.rawValue.hasSuffix(mine) { return false }
            return !live.contains(owner)
        }
    }

    private func metrics() -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: dependencies.exporter.exposition())))
    }
}

import FerryCore
import Hummingbird

/// `POST /api/jobs/{id}/retry|cancel|pause|resume`: an operator's command on one job.
struct JobsController {
    let dependencies: AdminDependencies

    enum Command: String, CaseIterable {
        case retry, cancel, pause, resume
    }

    func register(in routes: RouteRegistry) {
        routes.get("/api/jobs/:id") { _, context in try await show(context) }
        for command in Command.allCases {
            routes.post("/api/jobs/:id/\(command.rawValue)") { _, context in try await run(command, context) }
        }
    }

    private func show(_ context: AdminContext) async throws -> Response {
        let id = try JobListQuery.jobID(context.parameters.get("id"))
        do {
            let job = try await dependencies.store.job(id)
            return try JSONResponse.make(
                JobResource(
                    job, payload: try await dependencies.store.payload(of: id),
                    node: try await dependencies.fileNodes(of: [id])[id],
                    waitingForTurn: await dependencies.supervisor.fleetSnapshot().waitingForTurn[id]))
        } catch let error as StoreError {
            throw APIError.from(error)
        }
    }

    private func run(_ command: Command, _ context: AdminContext) async throws -> Response {
        let id = try JobListQuery.jobID(context.parameters.get("id"))
        let store = dependencies.store
        let reason = "\(command.rawValue) requested through the admin API"
        let job: Job
        do {
            switch command {
            case .retry: job = try await store.retry(id, reason: reason)
            case .cancel: job = try await store.cancel(id, reason: reason)
            case .pause: job = try await store.pause(id, reason: reason)
            case .resume: job = try await store.resume(id, reason: reason)
            }
        } catch {
            throw APIError.from(error)
        }
        switch command {
        case .retry, .resume: await dependencies.supervisor.dispatchNewWork(job.kind)
        case .cancel, .pause: await dependencies.supervisor.withdraw(id, reason: reason)
        }
        return try JSONResponse.make(JobResource(job))
    }
}

import FerryCore
import Hummingbird

/// One page of jobs of a kind, newest first, with the filters and paging of ``JobListQuery``:
/// `GET /api/downloads`, `GET /api/uploads` and `GET /api/videos` answer alike.
struct JobListing {
    let dependencies: AdminDependencies

    func page(of kind: JobKind, _ request: Request) async throws -> Response {
        let query = try JobListQuery(request.uri.queryParameters, kind: kind).query
        let jobs: [Job]
        let payloads: [JobID: JobPayload]
        var telegram: [JobID: TelegramSource] = [:]
        let nodes: [JobID: String]
        do {
            jobs = try await dependencies.store.jobs(matching: query)
            payloads = try await dependencies.store.payloads(of: jobs.map(\.id), kind: kind)
            // A download sent to a bot shows the chat and message it came from.
            if kind == .download { telegram = try await dependencies.store.telegramSources(of: jobs.map(\.id)) }
            nodes = try await dependencies.fileNodes(of: jobs.map(\.id))
        } catch {
            throw APIError.from(error)
        }
        let next = jobs.count == query.limit ? jobs.last?.id.rawValue : nil
        let waiting = await dependencies.supervisor.fleetSnapshot().waitingForTurn
        // Each row shows what it works on: the URL and file name, or the download and target.
        return try JSONResponse.make(
            JobPage(
                jobs: jobs.map {
                    JobResource(
                        $0, payload: payloads[$0.id], telegram: telegram[$0.id], node: nodes[$0.id],
                        waitingForTurn: waiting[$0.id])
                },
                nextBefore: next))
    }
}

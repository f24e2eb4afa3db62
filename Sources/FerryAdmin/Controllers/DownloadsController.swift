import FerryCore
import Foundation
import HTTPTypes
import Hummingbird

/// `POST /api/downloads`, `POST /api/download-batches`, `GET /api/downloads`,
/// `GET /api/downloads/{id}`.
struct DownloadsController {
    let dependencies: AdminDependencies

    func register(in routes: RouteRegistry) {
        routes.post("/api/downloads") { request, context in try await create(request, context) }
        routes.post("/api/download-batches") { request, context in try await createBatch(request, context) }
        routes.get("/api/downloads") { request, _ in
            try await JobListing(dependencies: dependencies).page(of: .download, request)
        }
        routes.get("/api/downloads/:id") { _, context in try await show(context) }
    }

    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!

    /// 201 with a new job; 200 with the existing one when the Idempotency-Key was seen before.
    private func create(_ request: Request, _ context: AdminContext) async throws -> Response {
        let body = try await JSONResponse.decode(DownloadBody.self, from: request, context: context)
        // An uploaded .torrent file is checked, then kept in the state folder before its job is queued.
        let torrent = try body.torrentFile(maxSize: dependencies.maxSize)
        let stored = torrent.map { UploadedTorrent.path(of: $0.bytes, stateDirectory: dependencies.stateDirectory) }
        let download = try body.request(
            idempotencyKey: request.headers[Self.idempotencyKey], knownTargets: dependencies.uploadTargets,
            allowedSchemes: dependencies.allowedSchemes, storedTorrent: stored.map(UploadedTorrent.url(of:)))
        if let torrent, let stored { try UploadedTorrent.store(torrent.bytes, at: stored) }
        let enqueued: Enqueued
        do {
            enqueued = try await dependencies.store.enqueue(download: download)
        } catch {
            throw APIError.from(error)
        }
        if enqueued.created { await dependencies.supervisor.dispatchNewWork(.download) }
        let payload = try? await dependencies.store.payload(of: enqueued.job.id)
        var response = try JSONResponse.make(
            JobResource(enqueued.job, payload: payload), status: enqueued.created ? .created : .ok)
        response.headers[.location] = "/api/downloads/\(enqueued.job.id)"
        return response
    }

    /// 201 when the batch queued anything new, else 200 (every item's key was seen before); the
    /// jobs in the order of the items. All or nothing: one bad item refuses the whole batch.
    private func createBatch(_ request: Request, _ context: AdminContext) async throws -> Response {
        let body = try await JSONResponse.decode(DownloadBatchBody.self, from: request, context: context)
        let requests = try body.requests(
            knownTargets: dependencies.uploadTargets, allowedSchemes: dependencies.allowedSchemes)
        let enqueued: [Enqueued]
        let payloads: [JobID: JobPayload]
        do {
            enqueued = try await dependencies.store.enqueue(downloads: requests)
            payloads = try await dependencies.store.payloads(of: enqueued.map(\.job.id), kind: .download)
        } catch {
            throw APIError.from(error)
        }
        let created = enqueued.count { $0.created }
        if created > 0 { await dependencies.supervisor.dispatchNewWork(.download) }
        return try JSONResponse.make(
            BatchResult(
                downloads: enqueued.map { JobResource($0.job, payload: payloads[$0.job.id]) }, created: created),
            status: created > 0 ? .created : .ok)
    }

    struct BatchResult: Encodable {
        var downloads: [JobResource]
        /// How many of them this request created (the rest existed under their keys).
        var created: Int
    }

    private func show(_ context: AdminContext) async throws -> Response {
        let id = try JobListQuery.jobID(context.parameters.get("id"))
        do {
            let job = try await dependencies.store.job(id)
            guard job.kind == .download else { throw APIError.notFound("download \(id)") }
            let detail = DownloadDetail(
                download: JobResource(
                    job, payload: try await dependencies.store.payload(of: id),
                    telegram: try await dependencies.store.telegramSources(of: [id])[id],
                    node: try await dependencies.fileNodes(of: [id])[id]),
                uploads: try await dependencies.store.uploads(of: id).map { JobResource($0) },
                events: try await dependencies.store.events(of: id).map(EventResource.init))
            return try JSONResponse.make(detail)
        } catch let error as StoreError {
            throw APIError.from(error)
        }
    }

    struct DownloadDetail: Encodable {
        var download: JobResource
        var uploads: [JobResource]
        var events: [EventResource]
    }
}

/// The filters and paging of a job list: `state` (repeatable or comma-separated), `limit`
/// (1–500, default 50) and `before` (the `next_before` of the previous page).
struct JobListQuery {
    var query: JobQuery

    init(_ parameters: Parameters, kind: JobKind?) throws(APIError) {
        query = JobQuery(kind: kind)
        for value in parameters.getAll("state") {
            for name in value.split(separator: ",") {
                guard let state = JobState(rawValue: String(name)) else {
                    let known = JobState.allCases.map(\.rawValue).joined(separator: ", ")
                    throw .badRequest("invalid_state", "state \"\(name)\" is not one of \(known)")
                }
                query.states.insert(state)
            }
        }
        if let limit = parameters.get("limit") {
            guard let value = Int(limit), (1...500).contains(value) else {
                throw .badRequest("invalid_limit", "limit must be a whole number from 1 to 500")
            }
            query.limit = value
        }
        if let before = parameters.get("before") { query.before = try Self.jobID(before) }
    }

    static func jobID(_ text: String?) throws(APIError) -> JobID {
        // Ids stay within 2^53 - 1 so that JavaScript clients read them exactly.
        guard let text, let value = Int64(text), (1...9_007_199_254_740_991).contains(value) else {
            throw .badRequest("invalid_id", "a job id is a whole number from 1 to 9007199254740991")
        }
        return JobID(value)
    }
}

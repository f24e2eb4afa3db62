import FerryCore
import Foundation
import Hummingbird

/// `POST /api/videos` (store a generated video from its temporary URL) and
/// `GET /api/user/videos` (a user's videos with paging, ordering and a status filter).
struct VideosController {
    let dependencies: AdminDependencies

    func register(in routes: RouteRegistry) {
        routes.post("/api/videos") { request, context in try await create(request, context) }
        routes.get("/api/user/videos") { request, _ in try await list(request) }
        // Every user's videos, as the page lists them (same filters and paging as downloads).
        routes.get("/api/videos") { request, _ in
            try await JobListing(dependencies: dependencies).page(of: .video, request)
        }
    }

    /// 201 with a new job; 200 with the existing one for the same user and external request id.
    private func create(_ request: Request, _ context: AdminContext) async throws -> Response {
        let body = try await JSONResponse.decode(VideoBody.self, from: request, context: context, snakeCaseKeys: false)
        let video = try body.request()
        let enqueued: Enqueued
        do {
            enqueued = try await dependencies.store.enqueue(video: video)
        } catch {
            throw APIError.from(error)
        }
        if enqueued.created { await dependencies.supervisor.dispatchNewWork(.video) }
        let payload = try? await dependencies.store.payload(of: enqueued.job.id)
        var response = try JSONResponse.make(
            JobResource(enqueued.job, payload: payload), status: enqueued.created ? .created : .ok)
        response.headers[.location] = "/api/jobs/\(enqueued.job.id)"
        return response
    }

    private func list(_ request: Request) async throws -> Response {
        let query = try Self.query(request.uri.queryParameters)
        let page: VideoPage
        do {
            page = try await dependencies.store.videos(matching: query)
        } catch {
            throw APIError.from(error)
        }
        return try JSONResponse.make(
            VideoListResource(
                videos: page.videos.map { JobResource($0.job, payload: .video($0.spec)) }, total: page.total,
                page: query.page, limit: query.limit))
    }

    static let states: Set<JobState> = [.temporary, .storing, .stored, .failed]

    static func query(_ parameters: Parameters) throws(APIError) -> VideoQuery {
        guard let user = parameters.get("user_id"), !user.isEmpty, user.utf8.count <= 255 else {
            throw .badRequest("missing_user_id", "user_id is required (1 to 255 bytes)")
        }
        var query = VideoQuery(userID: user)
        if let page = parameters.get("page") {
            guard let value = Int(page), (1...1_000_000).contains(value) else {
                throw .badRequest("invalid_page", "page must be a whole number from 1")
            }
            query.page = value
        }
        if let limit = parameters.get("limit") {
            guard let value = Int(limit), (1...100).contains(value) else {
                throw .badRequest("invalid_limit", "limit must be a whole number from 1 to 100")
            }
            query.limit = value
        }
        if let order = parameters.get("orderBy") {
            guard let value = VideoQuery.Order(rawValue: order) else {
                throw .badRequest("invalid_order", "orderBy must be createdAt or updatedAt")
            }
            query.orderBy = value
        }
        if let direction = parameters.get("orderDirection") {
            guard ["asc", "desc"].contains(direction.lowercased()) else {
                throw .badRequest("invalid_order_direction", "orderDirection must be asc or desc")
            }
            query.ascending = direction.lowercased() == "asc"
        }
        for value in parameters.getAll("status") {
            for name in value.split(separator: ",") {
                guard let state = JobState(rawValue: String(name)), states.contains(state) else {
                    throw .badRequest("invalid_status", "status must be one of temporary, storing, stored, failed")
                }
                query.states.insert(state)
            }
        }
        return query
    }
}

/// A page of a user's videos.
struct VideoListResource: Encodable {
    var videos: [JobResource]
    var total: Int
    var page: Int
    var limit: Int
}

/// The body of `POST /api/videos`.
struct VideoBody: APIBody {
    static let fields: Set<String> = ["user_id", "external_request_id", "url", "metadata"]

    var userId: String
    var externalRequestId: String
    var url: String
    /// Anything the caller wants kept with the video, as a JSON object.
    var metadata: JSONObject?

    enum CodingKeys: String, CodingKey {
        case userId = "user_id"
        case externalRequestId = "external_request_id"
        case url, metadata
    }

    func request() throws(APIError) -> VideoRequest {
        for (name, value) in [("user_id", userId), ("external_request_id", externalRequestId)]
        where value.isEmpty || value.utf8.count > 255 {
            throw .badRequest("invalid_\(name)", "\(name) must be 1 to 255 bytes")
        }
        // The same URL rules as a download: absolute http(s) with a host.
        _ = try DownloadBody(url: url).request(idempotencyKey: nil, knownTargets: [])
        return VideoRequest(
            spec: VideoSpec(
                userID: userId, externalRequestID: externalRequestId, sourceURL: url, metadata: metadata?.text))
    }
}

/// Any JSON object, kept as its text.
struct JSONObject: Decodable {
    var text: String

    init(from decoder: any Decoder) throws {
        let value = try decoder.singleValueContainer().decode(JSONValue.self)
        guard case .object = value else {
            throw DecodingError.typeMismatch(
                JSONObject.self,
                .init(codingPath: decoder.codingPath, debugDescription: "metadata must be a JSON object"))
        }
        let data = try JSONEncoder().encode(value)
        text = String(decoding: data, as: UTF8.self)
    }
}

/// A JSON value of any shape, decoded and encoded again.
indirect enum JSONValue: Codable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

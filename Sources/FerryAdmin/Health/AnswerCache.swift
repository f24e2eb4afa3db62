import Foundation
import Hummingbird

/// Keeps a computed answer for a short while: health documents change with the samples (every
/// few seconds) and the status tick (every second), so a scraper or load balancer asking
/// thousands of times a second gets the same bytes instead of rebuilding them each time.
actor AnswerCache {
    struct Answer: Sendable {
        var status: HTTPResponse.Status
        var contentType: String
        var body: ByteBuffer
    }

    private let lifetime: Duration
    private var cached: (at: ContinuousClock.Instant, answer: Answer)?
    private var building: Task<Answer, any Error>?

    init(lifetime: Duration) {
        self.lifetime = lifetime
    }

    /// The cached answer while it is fresh, else a new one from `make`; concurrent callers of a
    /// stale cache share one computation.
    func answer(_ make: @escaping @Sendable () async throws -> Answer) async throws -> Response {
        let answer: Answer
        if let cached, ContinuousClock.now - cached.at < lifetime {
            answer = cached.answer
        } else if let building {
            answer = try await building.value
        } else {
            let task = Task { try await make() }
            building = task
            defer { building = nil }
            answer = try await task.value
            cached = (.now, answer)
        }
        return Response(
            status: answer.status,
            headers: [.contentType: answer.contentType, .cacheControl: "no-store"],
            body: .init(byteBuffer: answer.body))
    }
}

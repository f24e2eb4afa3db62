public import FerryCore
import Foundation
import Logging
import PostgresNIO

extension PostgresJobStore {
    /// The channel the schema's `ferry_notify_work` trigger notifies.
    static let workChannel = "ferry_work"

    /// Wake-ups for as long as the stream is consumed: LISTEN on a dedicated connection of the
    /// pool, listening again after a lost connection (with backoff up to 5 s); `.listening` comes
    /// each time LISTEN is in place. Polling stays the fallback for whatever a gap hides.
    public func wakeUps() -> AsyncStream<WakeUp> {
        let client = client
        let logger = logger
        return AsyncStream { continuation in
            let task = Task {
                var delay = Duration.milliseconds(100)
                while !Task.isCancelled {
                    do {
                        try await client.withConnection { connection in
                            try await connection.listen(on: Self.workChannel) { notifications in
                                continuation.yield(.listening)
                                delay = .milliseconds(100)
                                for try await notification in notifications {
                                    if let kind = JobKind(rawValue: notification.payload) {
                                        continuation.yield(.work(kind))
                                    }
                                }
                            }
                        }
                    } catch {
                        if Task.isCancelled { break }
                        logger.warning(
                            "lost the PostgreSQL connection listening for new work; listening again",
                            metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                    }
                    try? await Task.sleep(for: delay)
                    delay = min(delay * 2, .seconds(5))
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

/// Why an attempt failed, as a worker reports it: a stable machine code, a message for people,
/// and whether trying again can help.
public struct JobFailure: Error, Hashable, Sendable, Codable {
    /// Whether another attempt may succeed.
    public enum Class: String, Hashable, Sendable, Codable, CaseIterable {
        /// Network errors, 5xx, 408, 429, a full disk: try again later.
        case retryable
        /// 404, a disallowed scheme, a size over the limit, a bad target: trying again cannot help.
        case permanent
    }

    /// A short stable identifier such as `http_503` or `checksum_mismatch`, safe as a metric label.
    public var code: String
    /// What happened, for the person reading the job.
    public var message: String
    public var failureClass: Class
    /// How long the server asked us to wait, from its `Retry-After` header.
    public var retryAfter: Duration?

    public init(code: String, message: String, failureClass: Class, retryAfter: Duration? = nil) {
        self.code = code
        self.message = message
        self.failureClass = failureClass
        self.retryAfter = retryAfter
    }

    public static func retryable(_ code: String, _ message: String, retryAfter: Duration? = nil) -> JobFailure {
        JobFailure(code: code, message: message, failureClass: .retryable, retryAfter: retryAfter)
    }

    public static func permanent(_ code: String, _ message: String) -> JobFailure {
        JobFailure(code: code, message: message, failureClass: .permanent)
    }

    public var isRetryable: Bool { failureClass == .retryable }
}

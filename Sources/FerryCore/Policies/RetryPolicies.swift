/// The retry policy of every job kind.
public struct RetryPolicies: Hashable, Sendable {
    public var download: RetryPolicy
    public var upload: RetryPolicy
    public var video: RetryPolicy

    public init(download: RetryPolicy, upload: RetryPolicy, video: RetryPolicy) {
        self.download = download
        self.upload = upload
        self.video = video
    }

    public subscript(kind: JobKind) -> RetryPolicy {
        switch kind {
        case .download: download
        case .upload: upload
        case .video: video
        }
    }

    /// The defaults Ferry ships with (and documents in Config/ferry.yaml).
    public static let standard = RetryPolicies(
        download: RetryPolicy(maxAttempts: 8, initialDelay: .seconds(2), maxDelay: .seconds(600)),
        upload: RetryPolicy(maxAttempts: 8, initialDelay: .seconds(2), maxDelay: .seconds(600)),
        // Field lesson: a generated video saved with one best-effort call is lost on the first
        // blip. Retry it at least 3 times with waits that are guaranteed to grow.
        video: RetryPolicy(maxAttempts: 6, initialDelay: .seconds(5), maxDelay: .seconds(900), jitter: .equal)
    )
}

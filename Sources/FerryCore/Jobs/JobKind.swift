/// The kinds of work Ferry does. Each kind has its own lifecycle (``JobLifecycle``).
public enum JobKind: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
    /// Fetch a URL into the local spool and keep it.
    case download
    /// Deliver one downloaded file to one configured target (one job per download × target).
    case upload
    /// Persist a generated video from a temporary URL into the permanent store.
    case video

    public var description: String { rawValue }
}

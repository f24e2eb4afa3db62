public import Hummingbird

/// The request context of the admin API: Hummingbird's basics with a body limit sized for JSON
/// commands, not uploads (a larger body is refused with 413 before it is read).
public struct AdminContext: RequestContext {
    public var coreContext: CoreRequestContextStorage

    public init(source: Source) {
        self.coreContext = .init(source: source)
    }

    /// Largest request body accepted, in bytes.
    public static let bodyLimit = 64 * 1024

    public var maxUploadSize: Int { Self.bodyLimit }
}

/// Why the admin server could not start: a stable code and what to do about it.
public struct AdminError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// http.token_file is missing, unreadable or holds no usable token.
        public static let tokenUnreadable = Code(rawValue: "token_unreadable")
        /// The listen address could not be bound (in use, not an address of this machine).
        public static let cannotListen = Code(rawValue: "cannot_listen")
    }

    public var code: Code
    public var message: String

    public var description: String { message }
}

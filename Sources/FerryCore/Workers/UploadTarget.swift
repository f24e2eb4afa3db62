/// A place finished downloads are delivered to, declared in the configuration under `targets`
/// and named on a download.
public struct UploadTarget: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        /// A mounted folder: written under a temporary name, fsynced, renamed, verified.
        case dir
    }

    /// The name downloads use (`upload_targets`): letters, digits, `-` and `_`, at most 64.
    public var name: String
    public var kind: Kind
    /// The folder of a `dir` target; it must exist (an unmounted mount point must not fill up).
    public var path: String

    public init(name: String, kind: Kind, path: String) {
        self.name = name
        self.kind = kind
        self.path = path
    }

    /// Whether `name` can name a target.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.unicodeScalars.allSatisfy {
                ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "-" || $0 == "_"
            }
    }
}

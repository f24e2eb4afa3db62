import Foundation

/// The bearer token that state-changing requests must carry, read once from `http.token_file`.
public struct AdminToken: Sendable {
    private let bytes: [UInt8]

    public init(_ token: String) {
        self.bytes = Array(token.utf8)
    }

    /// Reads the token file; surrounding whitespace (a trailing newline) is not part of the token.
    public static func load(from path: String) throws(AdminError) -> AdminToken {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw AdminError(
                code: .tokenUnreadable,
                message: "cannot read the bearer token file \(path) (http.token_file): \(error.localizedDescription)")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard token.count >= 16, !token.contains(where: \.isWhitespace) else {
            throw AdminError(
                code: .tokenUnreadable,
                message:
                    "the bearer token in \(path) must be one line of at least 16 characters without spaces; "
                    + "generate one with: head -c 32 /dev/urandom | base64")
        }
        return AdminToken(token)
    }

    /// Compares in time that depends only on the lengths, so response timing does not reveal how
    /// much of a guess was right.
    func matches(_ candidate: String) -> Bool {
        let other = Array(candidate.utf8)
        var difference: UInt8 = bytes.count == other.count ? 0 : 1
        for index in 0..<max(bytes.count, other.count) {
            let left = index < bytes.count ? bytes[index] : 0
            let right = index < other.count ? other[index] : 0
            difference |= left ^ right
        }
        return difference == 0
    }
}

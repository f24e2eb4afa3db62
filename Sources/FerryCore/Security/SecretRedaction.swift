/// Removes the credentials that URLs often carry before a URL, or a message quoting one, leaves
/// the store: the API, the page, the event stream, the logs and the journal, the CLI's output.
///
/// The store keeps every URL whole (the workers need it to fetch); everything people and other
/// programs can read gets the redacted form. Redacted are: the userinfo (`user:password@`),
/// query and fragment parameters whose names are well-known carriers of secrets (`X-Amz-Signature`,
/// `Signature`, `sig`, `token`, `access_token`, …) and Telegram's `/bot<token>/` path segments.
/// Redacting is idempotent, and a URL with nothing secret in it comes back unchanged.
public enum SecretRedaction {
    /// What replaces a secret.
    public static let mask = "REDACTED"

    /// Parameter names (compared case-insensitively) whose values are secrets.
    static let secretParameters: Set<String> = [
        "x-amz-signature", "x-amz-credential", "x-amz-security-token", "x-goog-signature", "x-goog-credential",
        "signature", "sig", "token", "access_token", "refresh_token", "id_token", "auth", "authorization",
        "password", "passwd", "secret", "client_secret", "api_key", "apikey",
    ]

    /// One URL, redacted. A string that is not `scheme://…` is returned as it is.
    public static func url(_ text: String) -> String {
        guard let separator = text.range(of: "://") else { return text }
        var output = String(text[..<separator.upperBound])
        let rest = text[separator.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") {
            output += mask + authority[at...]
        } else {
            output += authority
        }
        var remainder = rest[authorityEnd...]
        let queryStart = remainder.firstIndex(where: { $0 == "?" || $0 == "#" }) ?? remainder.endIndex
        output += redactPath(remainder[..<queryStart])
        remainder = remainder[queryStart...]
        while let marker = remainder.first {
            // "?query" then "#fragment"; each is a list of name=value pairs separated by & (or ;).
            let partEnd = remainder.dropFirst().firstIndex(of: "#") ?? remainder.endIndex
            output.append(marker)
            output += redactParameters(remainder[remainder.index(after: remainder.startIndex)..<partEnd])
            remainder = remainder[partEnd...]
        }
        return output
    }

    /// Free text (an error message, a log line), with every URL in it redacted.
    public static func text(_ text: String) -> String {
        guard text.contains("://") else { return text }
        var output = ""
        var index = text.startIndex
        while let separator = text.range(of: "://", range: index..<text.endIndex) {
            // The scheme: letters, digits, +, - and . back from "://".
            var start = separator.lowerBound
            while start > index {
                let previous = text.index(before: start)
                let character = text[previous]
                guard character.isASCII, character.isLetter || character.isNumber || "+-.".contains(character) else {
                    break
                }
                start = previous
            }
            var end = separator.upperBound
            while end < text.endIndex, !isURLTerminator(text[end]) { end = text.index(after: end) }
            output += text[index..<start]
            output += url(String(text[start..<end]))
            index = end
        }
        output += text[index...]
        return output
    }

    private static func isURLTerminator(_ character: Character) -> Bool {
        character.isWhitespace || character == "\"" || character == "'" || character == "<" || character == ">"
            || character == "`"
    }

    /// `/file/bot123:ABC/x` → `/file/botREDACTED/x`: a Telegram bot token is a path segment.
    private static func redactPath(_ path: Substring) -> String {
        guard path.contains(":") else { return String(path) }
        return path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix("bot") && segment.contains(":") ? "bot" + mask : String(segment)
        }.joined(separator: "/")
    }

    private static func redactParameters(_ parameters: Substring) -> String {
        guard parameters.contains("=") else { return String(parameters) }
        var output = ""
        var start = parameters.startIndex
        while start <= parameters.endIndex {
            let end = parameters[start...].firstIndex(where: { $0 == "&" || $0 == ";" }) ?? parameters.endIndex
            let pair = parameters[start..<end]
            if let equals = pair.firstIndex(of: "="),
                secretParameters.contains(pair[..<equals].lowercased()),
                pair[pair.index(after: equals)...] != mask
            {
                output += pair[...equals] + mask
            } else {
                output += pair
            }
            guard end < parameters.endIndex else { break }
            output.append(parameters[end])
            start = parameters.index(after: end)
        }
        return output
    }
}

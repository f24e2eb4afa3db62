import Foundation

/// Safe local file names for downloaded content.
enum FileNames {
    /// A name that cannot escape its folder or confuse a shell: no path separators, no control
    /// characters, no leading dots, at most 200 bytes; nil when nothing usable is left.
    static func sanitized(_ proposed: String?) -> String? {
        guard let proposed else { return nil }
        var name = String(
            proposed.unicodeScalars.filter {
                !CharacterSet.controlCharacters.contains($0) && $0 != "/" && $0 != "\\" && $0 != "\0"
                    && !CharacterSet.illegalCharacters.contains($0)
            })
        name = name.trimmingCharacters(in: .whitespaces)
        while name.hasPrefix(".") { name.removeFirst() }
        while name.utf8.count > 200 { name.removeLast() }
        return name.isEmpty ? nil : name
    }

    /// The name a download is kept under: the requested one, else the origin's
    /// Content-Disposition, else the last path component of the URL it came from, else "download".
    static func forDownload(requested: String?, contentDisposition: String?, url: URL) -> String {
        if let name = sanitized(requested) { return name }
        if let name = sanitized(ContentDisposition.fileName(contentDisposition)) { return name }
        let last = url.lastPathComponent
        let fromURL = last == "/" || last.isEmpty ? nil : last.removingPercentEncoding ?? last
        return sanitized(fromURL) ?? "download"
    }
}

/// The file name a `Content-Disposition` header proposes (RFC 6266): `filename*` (RFC 8187,
/// percent-encoded UTF-8) wins over a plain or quoted `filename`.
enum ContentDisposition {
    static func fileName(_ header: String?) -> String? {
        guard let header else { return nil }
        var plain: String?
        var extended: String?
        for parameter in parameters(header) {
            switch parameter.name {
            case "filename*":
                // charset'language'percent-encoded
                let parts = parameter.value.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
                if parts.count == 3, parts[0].lowercased() == "utf-8" {
                    extended = String(parts[2]).removingPercentEncoding
                }
            case "filename": plain = parameter.value
            default: continue
            }
        }
        return extended ?? plain
    }

    /// `name=value` pairs after the disposition type, values unquoted (backslash escapes kept as
    /// the escaped character), names lower-cased.
    static func parameters(_ header: String) -> [(name: String, value: String)] {
        var result: [(String, String)] = []
        var rest = Substring(header)
        // Skip the disposition type.
        guard let firstSemicolon = rest.firstIndex(of: ";") else { return [] }
        rest = rest[rest.index(after: firstSemicolon)...]
        while !rest.isEmpty {
            rest = rest.drop(while: { $0 == " " || $0 == "\t" || $0 == ";" })
            guard let equals = rest.firstIndex(of: "=") else { break }
            let name = rest[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: equals)...].drop(while: { $0 == " " })
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var escaped = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if escaped {
                        value.append(character)
                        escaped = false
                    } else if character == "\\" {
                        escaped = true
                    } else if character == "\"" {
                        break
                    } else {
                        value.append(character)
                    }
                }
                rest = rest.drop(while: { $0 != ";" })
            } else {
                let end = rest.firstIndex(of: ";") ?? rest.endIndex
                value = rest[..<end].trimmingCharacters(in: .whitespaces)
                rest = rest[end...]
            }
            result.append((name, value))
        }
        return result
    }
}

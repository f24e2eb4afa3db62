import Foundation

/// Safe local file names for downloaded content.
enum FileNames {
    /// A name that cannot escape its folder or confuse a shell: no path separators, no control
    /// characters, no leading dots, at most 200 bytes; "download" when nothing usable is left.
    static func sanitized(_ proposed: String?) -> String {
        guard let proposed else { return "download" }
        var name = String(
            proposed.unicodeScalars.filter {
                !CharacterSet.controlCharacters.contains($0) && $0 != "/" && $0 != "\\" && $0 != "\0"
            })
        name = name.trimmingCharacters(in: .whitespaces)
        while name.hasPrefix(".") { name.removeFirst() }
        while name.utf8.count > 200 { name.removeLast() }
        return name.isEmpty ? "download" : name
    }

    /// The name a download is kept under: the requested one, else the URL's last path component.
    static func forDownload(requested: String?, url: URL) -> String {
        if let requested { return sanitized(requested) }
        let last = url.lastPathComponent
        return sanitized(last == "/" || last.isEmpty ? nil : last.removingPercentEncoding ?? last)
    }
}

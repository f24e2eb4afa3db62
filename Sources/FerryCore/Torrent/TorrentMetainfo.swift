/// A `.torrent` file's metainfo (BEP 3), read strictly: what aria2 could not use, or what would
/// write outside the download's folder, is refused with a reason a person can act on.
public struct TorrentMetainfo: Sendable, Hashable {
    public struct File: Sendable, Hashable {
        /// The path inside the torrent's folder (a single-file torrent: its name).
        public var path: [String]
        public var length: Int64
    }

    /// The file's name, or the folder's for a torrent of several files.
    public var name: String
    public var files: [File]
    /// Several files under the folder `name` (BEP 3's `files`), rather than one file.
    public var isFolder: Bool
    public var totalLength: Int64
    /// Where the bencoded `info` dictionary lies in the file: its SHA-1 is the info hash.
    public var infoBytes: Range<Int>

    /// The largest `.torrent` file accepted (a 1 TiB torrent of 64 KiB pieces holds 320 MB of
    /// hashes; real ones stay well below a few MB).
    public static let maxFileSize = 16 << 20

    public static func parse(_ bytes: [UInt8]) throws(TorrentProblem) -> TorrentMetainfo {
        guard !bytes.isEmpty else { throw .malformed("the file is empty") }
        guard bytes.count <= maxFileSize else {
            throw .malformed("the file is \(bytes.count) bytes, over the \(maxFileSize) bytes a .torrent may have")
        }
        var reader = Bencode.Reader(bytes: bytes)
        let root = try reader.value()
        guard reader.position == bytes.count else {
            throw .malformed("there are bytes after the end of the bencoded dictionary")
        }
        guard case .dictionary(let top) = root.value else { throw .malformed("it is not a bencoded dictionary") }
        guard let info = top["info"], case .dictionary(let fields) = info.value else {
            throw .malformed("it has no info dictionary")
        }
        guard let name = fields["name.utf-8"]?.text ?? fields["name"]?.text else {
            throw .malformed("its info dictionary has no name")
        }
        try checkComponent(name, in: name)
        guard case .integer(let pieceLength)? = fields["piece length"]?.value, pieceLength > 0 else {
            throw .malformed("its info dictionary has no positive piece length")
        }
        guard case .bytes(let pieces)? = fields["pieces"]?.value, !pieces.isEmpty, pieces.count % 20 == 0 else {
            throw .malformed("its piece hashes are missing or not a multiple of 20 bytes")
        }
        var files: [File] = []
        if case .integer(let length)? = fields["length"]?.value {
            guard length >= 0 else { throw .malformed("its length is negative") }
            files = [File(path: [name], length: length)]
        } else if case .list(let entries)? = fields["files"]?.value, !entries.isEmpty {
            for entry in entries {
                guard case .dictionary(let file) = entry.value, case .integer(let length)? = file["length"]?.value,
                    length >= 0, case .list(let parts)? = (file["path.utf-8"] ?? file["path"])?.value, !parts.isEmpty
                else { throw .malformed("a file entry has no length or no path") }
                var path: [String] = []
                for part in parts {
                    guard let text = part.text else { throw .malformed("a file path is not UTF-8 text") }
                    try checkComponent(text, in: ([name] + path + [text]).joined(separator: "/"))
                    path.append(text)
                }
                files.append(File(path: path, length: length))
            }
        } else {
            throw .malformed("its info dictionary lists no files (BitTorrent v2-only torrents are not supported)")
        }
        let (total, overflow) = files.reduce((Int64(0), false)) { sum, file in
            let (next, over) = sum.0.addingReportingOverflow(file.length)
            return (next, sum.1 || over)
        }
        guard !overflow else { throw .malformed("its total size does not fit in 64 bits") }
        let pieceCount = (total + pieceLength - 1) / pieceLength
        guard Int64(pieces.count / 20) == pieceCount else {
            throw .malformed("it has \(pieces.count / 20) piece hashes for \(pieceCount) pieces")
        }
        return TorrentMetainfo(
            name: name, files: files, isFolder: fields["files"] != nil, totalLength: total, infoBytes: info.range)
    }

    /// One name in a path: a plain name, never a way out of the folder.
    static func checkComponent(_ text: String, in path: String) throws(TorrentProblem) {
        let escapes =
            text.isEmpty || text == "." || text == ".." || text.contains("/") || text.contains("\\")
            || text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
        if escapes { throw .unsafePath(path) }
    }
}

/// Why a `.torrent` file is refused.
public enum TorrentProblem: Error, Hashable, CustomStringConvertible {
    case malformed(String)
    /// A file name that is empty, `.`, `..`, or holds a separator or a control character.
    case unsafePath(String)

    public var description: String {
        switch self {
        case .malformed(let why): "the .torrent file is malformed: \(why)"
        case .unsafePath(let path):
            "the torrent names a file that would escape its folder or is not a plain name (\(path.debugDescription))"
        }
    }
}

/// Bencoding (BEP 3), just enough to read metainfo; each value remembers where it lies.
enum Bencode {
    indirect enum Value: Hashable {
        case integer(Int64)
        case bytes([UInt8])
        case list([Located])
        case dictionary([String: Located])
    }

    struct Located: Hashable {
        var value: Value
        var range: Range<Int>

        var text: String? {
            guard case .bytes(let bytes) = value else { return nil }
            return String(validating: bytes, as: UTF8.self)
        }
    }

    struct Reader {
        let bytes: [UInt8]
        var position = 0
        var depth = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func value() throws(TorrentProblem) -> Located {
            let start = position
            guard position < bytes.count else { throw .malformed("it ends in the middle of a value") }
            depth += 1
            defer { depth -= 1 }
            guard depth <= 64 else { throw .malformed("its values are nested too deeply") }
            let value: Value
            switch bytes[position] {
            case UInt8(ascii: "i"):
                position += 1
                value = .integer(try number(until: UInt8(ascii: "e")))
            case UInt8(ascii: "l"):
                position += 1
                var items: [Located] = []
                while try !atEnd() { items.append(try self.value()) }
                value = .list(items)
            case UInt8(ascii: "d"):
                position += 1
                var entries: [String: Located] = [:]
                while try !atEnd() {
                    guard let key = try string().text else { throw .malformed("a dictionary key is not text") }
                    entries[key] = try self.value()
                }
                value = .dictionary(entries)
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                return try string()
            default:
                throw .malformed("byte \(position) starts no bencoded value")
            }
            return Located(value: value, range: start..<position)
        }

        private mutating func string() throws(TorrentProblem) -> Located {
            let start = position
            let length = try number(until: UInt8(ascii: ":"))
            guard length >= 0, length <= bytes.count - position else {
                throw .malformed("a string at byte \(start) runs past the end of the file")
            }
            let end = position + Int(length)
            defer { position = end }
            return Located(value: .bytes(Array(bytes[position..<end])), range: start..<end)
        }

        /// Consumes the `e` that ends a list or dictionary, if it is next.
        private mutating func atEnd() throws(TorrentProblem) -> Bool {
            guard position < bytes.count else { throw .malformed("a list or dictionary is not closed") }
            if bytes[position] == UInt8(ascii: "e") {
                position += 1
                return true
            }
            return false
        }

        private mutating func number(until terminator: UInt8) throws(TorrentProblem) -> Int64 {
            let start = position
            while position < bytes.count, bytes[position] != terminator { position += 1 }
            guard position < bytes.count, position - start <= 20,
                let number = Int64(String(decoding: bytes[start..<position], as: UTF8.self))
            else { throw .malformed("byte \(start) starts no valid number") }
            position += 1
            return number
        }
    }
}

/// Bencoding (BEP 3) for tests: values, and hand-made `.torrent` files (piece hashes are zeros:
/// only the shape matters) for the refusals a real torrent maker would not write.
public enum Bencoding {
    public static func encode(_ value: Any) -> [UInt8] {
        switch value {
        case let number as Int: return Array("i\(number)e".utf8)
        case let text as String: return Array("\(text.utf8.count):".utf8) + Array(text.utf8)
        case let bytes as [UInt8]: return Array("\(bytes.count):".utf8) + bytes
        case let list as [Any]: return Array("l".utf8) + list.flatMap(encode) + Array("e".utf8)
        case let dictionary as [String: Any]:
            return Array("d".utf8)
                + dictionary.keys.sorted().flatMap { encode($0) + encode(dictionary[$0]!) } + Array("e".utf8)
        default: return []
        }
    }

    /// A single-file torrent of `length` bytes, or one of `files` under the folder `name`.
    public static func torrent(name: String, length: Int? = nil, files: [([String], Int)] = []) -> [UInt8] {
        let pieceLength = 1 << 20
        let total = length ?? files.reduce(0) { $0 + $1.1 }
        var info: [String: Any] = [
            "name": name, "piece length": pieceLength,
            "pieces": [UInt8](repeating: 0, count: 20 * ((total + pieceLength - 1) / pieceLength)),
        ]
        if let length {
            info["length"] = length
        } else {
            info["files"] = files.map { ["path": $0.0, "length": $0.1] as [String: Any] }
        }
        return encode(["announce": "http://127.0.0.1:9/announce", "info": info] as [String: Any])
    }
}

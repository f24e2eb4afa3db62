import FerryTesting
import Testing

@testable import FerryCore

@Suite("Reading .torrent files")
struct TorrentMetainfoTests {
    func info(
        name: String = "pack", length: Int? = nil, files: [([String], Int)] = [], pieces: Int? = nil
    )
        -> [String: Any]
    {
        let total = length ?? files.reduce(0) { $0 + $1.1 }
        var info: [String: Any] = [
            "name": name, "piece length": 16384,
            "pieces": [UInt8](repeating: 7, count: 20 * (pieces ?? (total + 16383) / 16384)),
        ]
        if let length {
            info["length"] = length
        } else {
            info["files"] = files.map { ["path": $0.0, "length": $0.1] as [String: Any] }
        }
        return info
    }

    func parse(_ info: [String: Any]) throws(TorrentProblem) -> TorrentMetainfo {
        try TorrentMetainfo.parse(
            Bencoding.encode(["announce": "http://127.0.0.1:1/announce", "info": info] as [String: Any]))
    }

    @Test("A single-file and a multi-file torrent: names, sizes, total, and where the info dictionary lies")
    func wellFormed() throws {
        let single = try parse(info(name: "movie.bin", length: 40_000))
        #expect(single.name == "movie.bin" && !single.isFolder && single.totalLength == 40_000)
        #expect(single.files == [.init(path: ["movie.bin"], length: 40_000)])
        let bytes = Bencoding.encode(
            ["announce": "x", "info": info(name: "movie.bin", length: 40_000)] as [String: Any])
        let located = try TorrentMetainfo.parse(bytes)
        #expect(Array(bytes[located.infoBytes]) == Bencoding.encode(info(name: "movie.bin", length: 40_000)))
        let folder = try parse(info(files: [(["a.bin"], 10_000), (["sub", "b.bin"], 30_000)]))
        #expect(folder.isFolder && folder.totalLength == 40_000)
        #expect(folder.files.map(\.path) == [["a.bin"], ["sub", "b.bin"]])
    }

    @Test("Malformed files are refused, saying what is wrong")
    func malformed() {
        func problem(_ bytes: [UInt8]) -> TorrentProblem? {
            do {
                _ = try TorrentMetainfo.parse(bytes)
                return nil
            } catch {
                return error
            }
        }
        for bytes in [
            [], Array("d8:announce5:this is not bencoding".utf8), Array("le".utf8), Array("d4:infoi1ee".utf8),
            Bencoding.encode(["info": info(length: 100)] as [String: Any]) + [0x65],
            Bencoding.encode(["info": info(length: 40_000, pieces: 2)] as [String: Any]),
            Bencoding.encode(["info": ["name": "x", "piece length": 16384, "pieces": [UInt8](repeating: 1, count: 20)]]
            ),
            Bencoding.encode(["info": info(length: -5, pieces: 1)] as [String: Any]),
            Array(String(repeating: "l", count: 100).utf8),
            Array("d4:info99999999:e".utf8),
        ] {
            guard case .malformed? = problem(bytes) else {
                Issue.record("\(String(decoding: bytes.prefix(60), as: UTF8.self)) was not refused as malformed")
                continue
            }
        }
    }

    @Test(
        "A file name that would leave the folder is refused",
        arguments: [["..", "escaped.bin"], ["a", "..", "..", "b"], ["."], [""], ["a/b"], ["x\u{0}y"]])
    func escapingPaths(_ path: [String]) {
        #expect(throws: TorrentProblem.self) { try parse(info(files: [(path, 100)])) }
        do {
            _ = try parse(info(files: [(path, 100)]))
        } catch {
            guard case .unsafePath = error else {
                Issue.record("\(path): \(error)")
                return
            }
        }
    }

    @Test("A torrent named .. or with a slash in its name is refused too")
    func escapingName() {
        for name in ["..", "a/b", "."] {
            #expect(throws: TorrentProblem.unsafePath(name)) { try parse(info(name: name, length: 10)) }
        }
    }
}

import FerryCore
import Foundation
import Testing

@testable import FerryAdmin

@Suite("Checking what clients send")
struct RequestValidationTests {
    func body(_ url: String, fileName: String? = nil, sha256: String? = nil, targets: [String]? = nil) -> DownloadBody {
        DownloadBody(url: url, fileName: fileName, sha256: sha256, uploadTargets: targets)
    }

    func code(_ body: DownloadBody, key: String? = nil, targets: Set<String> = []) -> String? {
        do {
            _ = try body.request(idempotencyKey: key, knownTargets: targets)
            return nil
        } catch {
            return error.code
        }
    }

    @Test("Only absolute http and https URLs with a host are taken")
    func urls() {
        #expect(code(body("https://example.com/a.mp4")) == nil)
        #expect(code(body("HTTP://example.com/a")) == nil)
        #expect(code(body("ftp://example.com/a")) == "unsupported_scheme")
        #expect(code(body("file:///etc/passwd")) == "invalid_url")
        #expect(code(body("/relative/path")) == "invalid_url")
        #expect(code(body("http://")) == "invalid_url")
        #expect(code(body("http://example.com/" + String(repeating: "a", count: 9000))) == "invalid_url")
    }

    @Test("ftp, sftp and magnet links are taken only when downloads.allowed_schemes names them")
    func aria2Schemes() {
        let magnet = "magnet:?xt=urn:btih:3ce274b8d7a5585d8cb7aecfd445f368872b180f&dn=movie.bin"
        let all = ["http", "https", "ftp", "sftp", "magnet"]
        func code(_ url: String, allowed: [String]) -> String? {
            do {
                _ = try body(url).request(idempotencyKey: nil, knownTargets: [], allowedSchemes: allowed)
                return nil
            } catch {
                return error.code
            }
        }
        #expect(code(magnet, allowed: all) == nil)
        #expect(code("ftp://127.0.0.1:2121/clip.bin", allowed: all) == nil)
        #expect(code("sftp://user@127.0.0.1/clip.bin", allowed: all) == nil)
        #expect(code(magnet, allowed: ["http", "https"]) == "unsupported_scheme")
        #expect(code("magnet:?dn=no-hash", allowed: all) == "invalid_url")
        #expect(code("ftp:///no-host", allowed: all) == "invalid_url")
        var asked = body("https://example.com/show.torrent")
        asked.engine = "aria2"
        #expect((try? asked.request(idempotencyKey: nil, knownTargets: [])).map(\.spec.engine) == .aria2)
        asked.engine = "wget"
        #expect(self.code(asked) == "invalid_engine")
        var ferry = body("ftp://127.0.0.1/clip.bin")
        ferry.engine = "ferry"
        #expect((try? ferry.request(idempotencyKey: nil, knownTargets: [], allowedSchemes: all)) == nil)
    }

    @Test("A .torrent file in base64: checked before anything is stored, every refusal a 400 that says why")
    func uploadedTorrents() throws {
        func torrent(_ info: String) -> String {
            Array("d8:announce3:url4:info\(info)e".utf8).base64
        }
        let pieces = "20:" + String(repeating: "p", count: 20)
        let good = torrent("d6:lengthi1000e4:name5:a.bin12:piece lengthi16384e6:pieces\(pieces)e")
        let escaping = torrent(
            "d5:filesld6:lengthi1000e4:pathl2:..6:up.bineee4:name4:pack12:piece lengthi16384e6:pieces\(pieces)e")
        func code(_ base64: String, maxSize: Int64 = 0, url: String? = nil, engine: String? = nil) -> String? {
            var body = DownloadBody(url: url)
            body.torrent = base64
            body.engine = engine
            do {
                _ = try body.torrentFile(maxSize: maxSize)
                _ = try body.request(
                    idempotencyKey: nil, knownTargets: [], storedTorrent: "file:///s/torrents/x.torrent")
                return nil
            } catch {
                return error.code
            }
        }
        #expect(code(good) == nil)
        #expect(code(String(good.dropLast(good.hasSuffix("==") ? 2 : good.hasSuffix("=") ? 1 : 0))) == nil)
        #expect(code(good, maxSize: 999) == "too_large")
        #expect(code(good, maxSize: 1000) == nil)
        #expect(code(escaping) == "unsafe_path")
        #expect(code("bm90IGEgdG9ycmVudA==") == "invalid_torrent")
        #expect(code("%%%") == "invalid_torrent")
        #expect(code(good, url: "http://h/a") == "invalid_url")
        #expect(code(good, engine: "ferry") == "invalid_engine")
        var body = DownloadBody(url: nil)
        body.torrent = good
        let request = try body.request(
            idempotencyKey: nil, knownTargets: [], storedTorrent: "file:///s/torrents/x.torrent")
        #expect(request.spec.url == "file:///s/torrents/x.torrent" && request.spec.engine == .aria2)
        // A batch item cannot carry one: it is taken only where it is stored first.
        #expect(throws: APIError.self) { try body.request(idempotencyKey: nil, knownTargets: []) }
        #expect((try? DownloadBody(url: nil).request(idempotencyKey: nil, knownTargets: [])) == nil)
    }

    @Test(
        "A file name is one plain path component", arguments: ["..", ".", "a/b", "a\\b", "", "bad\u{7}name", "x\nname"])
    func badFileNames(_ name: String) {
        #expect(code(body("http://h/a", fileName: name)) == "invalid_file_name")
    }

    @Test("Ordinary and non-ASCII file names pass; over 255 bytes do not")
    func goodFileNames() {
        #expect(code(body("http://h/a", fileName: "clip 01 – final.mp4")) == nil)
        #expect(code(body("http://h/a", fileName: "ビデオ.mkv")) == nil)
        #expect(code(body("http://h/a", fileName: String(repeating: "é", count: 128))) == "invalid_file_name")
    }

    @Test("SHA-256, targets, priority and the idempotency key are checked")
    func otherFields() {
        #expect(code(body("http://h/a", sha256: String(repeating: "A", count: 64))) == nil)
        #expect(code(body("http://h/a", sha256: String(repeating: "g", count: 64))) == "invalid_sha256")
        #expect(code(body("http://h/a", targets: ["s3"])) == "unknown_target")
        #expect(code(body("http://h/a", targets: ["s3"]), targets: ["s3"]) == nil)
        #expect(code(body("http://h/a", targets: ["s3", "s3"]), targets: ["s3"]) == "duplicate_target")
        var urgent = body("http://h/a")
        urgent.priority = 5000
        #expect(code(urgent) == "invalid_priority")
        #expect(code(body("http://h/a"), key: "") == "invalid_idempotency_key")
        #expect(code(body("http://h/a"), key: String(repeating: "k", count: 201)) == "invalid_idempotency_key")
    }

    @Test("The request keeps what was asked, with the hash in lower case")
    func requestContents() throws {
        var asked = body("https://example.com/v.mp4", fileName: "v.mp4", sha256: String(repeating: "AB", count: 32))
        asked.size = 42
        asked.maxAttempts = 3
        let request = try asked.request(idempotencyKey: "k", knownTargets: [])
        #expect(request.spec.url == "https://example.com/v.mp4")
        #expect(request.spec.expectedSHA256 == String(repeating: "ab", count: 32))
        #expect(request.spec.expectedSize == 42)
        #expect(request.maxAttempts == 3)
        #expect(request.idempotencyKey == "k")
    }
}

@Suite("Access to state-changing endpoints")
struct AccessTests {
    @Test("The token matches only itself, whatever the length of the guess")
    func tokenComparison() {
        let token = AdminToken("s3cret-token-0123456789")
        #expect(token.matches("s3cret-token-0123456789"))
        #expect(!token.matches("s3cret-token-012345678"))
        #expect(!token.matches("s3cret-token-01234567890"))
        #expect(!token.matches(""))
        #expect(!token.matches("S3cret-token-0123456789"))
    }

    @Test("An Origin is the same site only with the same host and port")
    func origins() {
        #expect(AccessMiddleware.isSameOrigin("http://127.0.0.1:8080", authority: "127.0.0.1:8080"))
        #expect(AccessMiddleware.isSameOrigin("http://LOCALHOST:8080", authority: "localhost:8080"))
        #expect(!AccessMiddleware.isSameOrigin("http://127.0.0.1:8081", authority: "127.0.0.1:8080"))
        #expect(!AccessMiddleware.isSameOrigin("https://evil.example", authority: "127.0.0.1:8080"))
        #expect(!AccessMiddleware.isSameOrigin("null", authority: "127.0.0.1:8080"))
        #expect(!AccessMiddleware.isSameOrigin("http://127.0.0.1:8080", authority: nil))
    }
}

extension [UInt8] {
    var base64: String { Data(self).base64EncodedString() }
}

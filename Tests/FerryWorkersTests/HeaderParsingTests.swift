import FerryCore
import Foundation
import Testing

@testable import FerryWorkers

@Suite("Download headers and file names")
struct HeaderParsingTests {
    @Test(
        "File names cannot escape their folder or carry control characters",
        arguments: [
            ("../../etc/passwd", "etcpasswd"), ("clip.mp4", "clip.mp4"), ("a\u{0}b\nc.bin", "abc.bin"),
            ("..", nil), ("  ", nil), (".hidden", "hidden"), ("dir\\name", "dirname"),
        ] as [(String, String?)])
    func sanitizes(proposed: String, expected: String?) {
        #expect(FileNames.sanitized(proposed) == expected)
    }

    @Test("The name comes from the request, then Content-Disposition, then the URL")
    func namePrecedence() {
        let url = URL(string: "http://example.test/media/video%20one.mp4?sig=1")!
        #expect(
            FileNames.forDownload(requested: "x.bin", contentDisposition: "attachment; filename=y.bin", url: url)
                == "x.bin")
        #expect(
            FileNames.forDownload(requested: nil, contentDisposition: "attachment; filename=y.bin", url: url) == "y.bin"
        )
        #expect(FileNames.forDownload(requested: nil, contentDisposition: nil, url: url) == "video one.mp4")
        #expect(
            FileNames.forDownload(requested: nil, contentDisposition: nil, url: URL(string: "http://h.test/")!)
                == "download")
    }

    @Test("Content-Disposition: filename* wins, quotes and escapes are undone")
    func contentDisposition() {
        #expect(ContentDisposition.fileName("attachment; filename=\"a \\\"b\\\".txt\"") == "a \"b\".txt")
        #expect(
            ContentDisposition.fileName(
                "attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf; filename=\"EUR rates.pdf\"") == "€ rates.pdf")
        #expect(ContentDisposition.fileName("inline") == nil)
        #expect(ContentDisposition.fileName("attachment; filename=plain.bin; size=3") == "plain.bin")
    }

    @Test("Content-Range is parsed strictly")
    func contentRange() {
        #expect(ContentRange("bytes 100-199/1000") == ContentRange("bytes 100-199/1000"))
        #expect(ContentRange("bytes 100-199/1000")?.first == 100)
        #expect(ContentRange("bytes 100-199/*")?.total == nil)
        #expect(ContentRange("bytes 200-100/1000") == nil)
        #expect(ContentRange("bytes 100-199/150") == nil)
        #expect(ContentRange("items 1-2/3") == nil)
    }

    @Test("Only a 206 starting exactly at the local size is appended")
    func rangeAnswers() {
        func decide(_ status: Int, _ range: String?, asked: Bool = true) -> RangeAnswer {
            RangeAnswer.decide(
                status: status, contentRange: range, contentLength: nil, localSize: 100, askedForRange: asked,
                retryAfter: nil, reasonPhrase: "")
        }
        #expect(decide(206, "bytes 100-199/200") == .append(total: 200))
        #expect(decide(200, nil) == .replace(total: nil))
        if case .askAgainWhole = decide(206, "bytes 50-199/200") {
        } else {
            Issue.record("a misplaced 206 was accepted")
        }
        if case .askAgainWhole = decide(206, nil) {} else { Issue.record("a 206 without Content-Range was accepted") }
        if case .askAgainWhole = decide(416, nil) {} else { Issue.record("a 416 was not asked again") }
        if case .fail(let failure) = decide(404, nil) { #expect(!failure.isRetryable) } else { Issue.record("404") }
        if case .fail(let failure) = decide(408, nil) { #expect(failure.isRetryable) } else { Issue.record("408") }
    }

    @Test("Retry-After as seconds or an HTTP date")
    func retryAfter() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(RetryAfter.parse("120", now: now) == .seconds(120))
        let later = now.addingTimeInterval(30)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        #expect(RetryAfter.parse(formatter.string(from: later), now: now) == .seconds(30))
        #expect(RetryAfter.parse("soon", now: now) == nil)
        #expect(RetryAfter.parse("-5", now: now) == nil)
    }
}

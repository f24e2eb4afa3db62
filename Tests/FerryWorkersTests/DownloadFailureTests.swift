import FerryCore
import FerryTesting
import Foundation
import Testing

@testable import FerryWorkers

/// How downloads fail: retryable or permanent, with the reason, and nothing left behind.
@Suite("Download failures are classified", .serialized)
struct DownloadFailureTests {
    @Test("404 is permanent; 500 and 429 are retryable, 429 with its Retry-After")
    func statusClasses() async throws {
        let fixture = try DownloadFixture()
        let missing = await fixture.attempt(1, DownloadSpec(url: "http://127.0.0.1:\(fixture.origin.port)/nothing"))
        #expect(missing.failure?.code == "http_404")
        #expect(missing.failure?.failureClass == .permanent)
        for status in [500, 429] {
            var options = TestOrigin.Options(key: "status-\(status)-\(UUID())")
            options.failures = (status, 5)
            let attempt = await fixture.attempt(1, DownloadSpec(url: fixture.origin.url(size: 1000, options)))
            #expect(attempt.failure?.code == "http_\(status)")
            #expect(attempt.failure?.isRetryable == true)
            if status == 429 { #expect(attempt.failure?.retryAfter == .seconds(1)) }
        }
        #expect(fixture.spoolFiles.isEmpty, "no error page was kept")
    }

    @Test("An origin that refuses connections (nothing listening) is a retryable connection_refused naming the host")
    func refused() async throws {
        let fixture = try DownloadFixture()
        // A port that was free a moment ago: bound, then closed, so nothing listens on it.
        let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let port = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw -> UInt16 in
                _ = bind(probe, raw, length)
                _ = getsockname(probe, raw, &length)
                return UInt16(bigEndian: pointer.pointee.sin_port)
            }
        }
        close(probe)
        let attempt = await fixture.attempt(1, DownloadSpec(url: "http://127.0.0.1:\(port)/file/10"))
        #expect(attempt.failure?.code == "connection_refused")
        #expect(attempt.failure?.isRetryable == true)
        #expect(attempt.failure?.message.contains("127.0.0.1") == true)
    }

    @Test("A disallowed or unusable URL fails for good before anything is fetched")
    func badURLs() async throws {
        var settings = DownloadSettings()
        settings.allowedSchemes = ["https"]
        let fixture = try DownloadFixture(settings)
        let plain = await fixture.attempt(1, DownloadSpec(url: fixture.origin.url(size: 10)))
        #expect(plain.failure?.code == "scheme_not_allowed")
        #expect(plain.failure?.failureClass == .permanent)
        for url in ["file:///etc/passwd", "ftp://127.0.0.1/x", "not a url", "http:///nohost"] {
            let attempt = await fixture.attempt(1, DownloadSpec(url: url))
            #expect(attempt.failure?.failureClass == .permanent, "\(url): \(String(describing: attempt.failure))")
        }
    }

    @Test("A file over downloads.max_size fails for good and leaves no partial file")
    func sizeLimit() async throws {
        var settings = DownloadSettings()
        settings.maxSize = 50_000
        let fixture = try DownloadFixture(settings)
        let attempt = await fixture.attempt(1, DownloadSpec(url: fixture.origin.url(size: 80_000)))
        #expect(attempt.failure?.code == "too_large")
        #expect(attempt.failure?.failureClass == .permanent)
        #expect(fixture.spoolFiles.isEmpty)
    }

    @Test("Redirects are followed up to downloads.max_redirects, then the download fails for good")
    func redirectLimit() async throws {
        var settings = DownloadSettings()
        settings.maxRedirects = 2
        let fixture = try DownloadFixture(settings)
        var options = TestOrigin.Options()
        options.redirects = 2
        options.disposition = "report final.pdf"
        let followed = await fixture.attempt(1, DownloadSpec(url: fixture.origin.url(size: 5000, options)))
        let result = try #require(followed.success, "\(String(describing: followed.failure))")
        #expect(result.location.hasSuffix("/report final.pdf"), "the name comes from Content-Disposition")
        options.redirects = 3
        let tooMany = await fixture.attempt(2, DownloadSpec(url: fixture.origin.url(size: 5000, options)))
        #expect(tooMany.failure?.code == "too_many_redirects")
        #expect(tooMany.failure?.failureClass == .permanent)
    }

    @Test("A trickle that stops trips the idle timeout, retryably")
    func idleTimeout() async throws {
        var settings = DownloadSettings()
        settings.idleTimeout = .seconds(1)
        let fixture = try DownloadFixture(settings)
        let attempt = await fixture.attempt(1, DownloadSpec(url: fixture.origin.url(size: 200_000, stallAfter: 40_000)))
        #expect(attempt.failure?.code == "idle_timeout", "\(String(describing: attempt.failure))")
        #expect(attempt.failure?.isRetryable == true)
    }

    @Test("Wrong content is retried a bounded number of times, then fails for good")
    func checksumMismatchIsBounded() async throws {
        var settings = DownloadSettings()
        settings.checksumAttempts = 2
        let fixture = try DownloadFixture(settings)
        let spec = DownloadSpec(url: fixture.origin.url(size: 5000), expectedSHA256: String(repeating: "ab", count: 32))
        let first = await fixture.attempt(1, spec)
        #expect(first.failure?.code == "checksum_mismatch")
        #expect(first.failure?.isRetryable == true)
        #expect(fixture.spoolFiles.isEmpty, "content that failed its check is not kept")
        let second = await fixture.attempt(2, spec, resumeState: first.resumeState)
        #expect(second.failure?.code == "checksum_mismatch")
        #expect(second.failure?.failureClass == .permanent)
    }
}

import Foundation
import Testing

@testable import FerryAdmin

@Suite("The Date header, formatted per response")
struct HTTPDateTests {
    @Test("IMF-fixdate in English and GMT, with two-digit fields, as RFC 9110's own example")
    func imfFixdate() {
        #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(1_796_021_999) == "Mon, 30 Nov 2026 06:59:59 GMT")
        // What Foundation makes of it is the moment it was made from.
        let parser = DateFormatter()
        parser.locale = Locale(identifier: "en_US_POSIX")
        parser.timeZone = TimeZone(identifier: "GMT")
        parser.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let now = time(nil)
        #expect(parser.date(from: HTTPDate.format(now)) == Date(timeIntervalSince1970: TimeInterval(now)))
    }
}

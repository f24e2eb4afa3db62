import Foundation
import Testing

@testable import FerryCommands

@Suite("Live progress in the terminal")
struct WatchBoardTests {
    @Test("The event-stream parser splits frames, joins data lines and skips comments, across chunk boundaries")
    func parsesServerSentEvents() {
        var parser = ServerSentEventParser()
        var events = parser.feed("retry: 2000\n\n: keep-alive\n\nid: 7\nevent: job\ndata: {\"job_id\":")
        #expect(events.isEmpty, "nothing is complete yet")
        events = parser.feed("1}\n\nevent: progress\ndata: a\ndata: b\n\n")
        #expect(
            events == [
                ServerSentEvent(event: "job", data: #"{"job_id":1}"#, id: "7"),
                ServerSentEvent(event: "progress", data: "a\nb", id: nil),
            ])
    }

    @Test("A running job shows a bar, its bytes, a smoothed rate and an ETA; a failed one its error")
    func rendersLines() {
        var board = WatchBoard(entries: [
            WatchBoard.entry(from: [
                "id": 12, "state": "running", "input": ["url": "https://example.test/v/clip.mp4?sig=x"],
                "progress": ["bytes_done": 0, "bytes_total": 10_485_760],
            ]),
            WatchBoard.entry(from: [
                "id": 13, "state": "queued", "input": ["url": "https://example.test/a.bin", "file_name": "a.bin"],
            ]),
        ])
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let first = board.apply(progress: ["job_id": 12, "bytes_done": 0, "bytes_total": 10_485_760], at: start)
        let second = board.apply(
            progress: ["job_id": 12, "bytes_done": 2_097_152, "state": "running"], at: start.addingTimeInterval(1))
        #expect(first && second)
        let line = board.lines(width: 120, bars: true)[0]
        #expect(line.hasPrefix("#12 clip.mp4"), "\(line)")
        #expect(
            line.contains("[####----------------]   20%  2.0 MiB of 10.0 MiB  2.0 MiB/s  ETA 4 s  running"), "\(line)")
        let failed = board.apply(transition: [
            "job_id": 13, "to": "failed", "reason": "http_404: the origin answered 404",
        ])
        #expect(failed)
        #expect(!board.allFinal)
        #expect(board.lines(width: 120, bars: false)[1].contains("failed  (http_404: the origin answered 404)"))
        let unknown = board.apply(transition: ["job_id": 99, "to": "failed"])
        #expect(!unknown, "jobs not watched are ignored")
        let succeeded = board.apply(transition: ["job_id": 12, "to": "succeeded"])
        #expect(succeeded)
        #expect(board.allFinal && board.entries[0].succeeded && !board.entries[1].succeeded)
        #expect(board.lines(width: 30, bars: true).allSatisfy { $0.count <= 30 }, "lines fit the terminal")
    }

    @Test("Durations read as a person would say them")
    func durations() {
        #expect(WatchBoard.duration(4.2) == "5 s")
        #expect(WatchBoard.duration(125) == "2 min 5 s")
        #expect(WatchBoard.duration(7300) == "2 h 1 min")
        #expect(WatchBoard.duration(.infinity) == "?")
    }
}

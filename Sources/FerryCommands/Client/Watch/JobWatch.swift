import ArgumentParser
import FerryCore
import Foundation

/// Follows jobs live until each has ended, for `ferry jobs watch` and `ferry enqueue --wait`:
/// bars redrawn in place on a terminal, plain lines otherwise; the result or the error of each
/// job at the end, and an exit status scripts can wait on (0 all succeeded, 1 otherwise).
///
/// It follows the daemon's event stream (`job` transitions and `progress` events), never polls;
/// the stream is opened before the jobs are read, so no transition falls between the two.
struct JobWatch {
    let client: AdminAPIClient
    let ids: [Int]
    /// Redraw in place (a terminal) or print plain lines (a pipe or a file).
    var interactive = isatty(STDOUT_FILENO) == 1

    /// Inputs of the loop that draws.
    private enum Input: Sendable {
        case connected
        case event(ServerSentEvent)
        case tick
        case streamEnded(String?)
    }

    func run() async throws {
        let (inputs, feed) = AsyncStream<Input>.makeStream()
        let stream = Task {
            do {
                try await client.followEvents(connected: { feed.yield(.connected) }) { feed.yield(.event($0)) }
                feed.yield(.streamEnded(nil))
            } catch let refused as AdminAPIClient.StreamRefused {
                feed.yield(
                    .streamEnded("the daemon refused the event stream (HTTP \(refused.status)): \(refused.body)"))
            } catch {
                feed.yield(.streamEnded("the event stream broke: \(error)"))
            }
        }
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(500))
                feed.yield(.tick)
            }
        }
        defer {
            stream.cancel()
            ticker.cancel()
        }
        var next = inputs.makeAsyncIterator()
        // The jobs are read only once the stream is accepted, so no transition falls in between;
        // events that arrive while they are read are applied after.
        var early: [ServerSentEvent] = []
        connecting: while let input = await next.next() {
            switch input {
            case .connected: break connecting
            case .event(let event): early.append(event)
            case .tick: continue
            case .streamEnded(let problem):
                Terminal.error(problem ?? "the daemon closed the event stream at once")
                throw ExitStatus.unavailable
            }
        }
        var board = WatchBoard(entries: try await ids.asyncMap { try await job($0) }.map { WatchBoard.entry(from: $0) })
        var screen = Screen(interactive: interactive)
        for event in early { apply(event, to: &board) }
        screen.draw(board)
        screen.print(board, changedOnly: true)
        var lastPlain = Date()
        while !board.allFinal, let input = await next.next() {
            switch input {
            case .connected:
                continue
            case .event(let event):
                apply(event, to: &board)
                screen.print(board, changedOnly: true)
            case .tick:
                if !interactive, Date().timeIntervalSince(lastPlain) >= 5 {
                    lastPlain = Date()
                    screen.print(board, changedOnly: false)
                }
            case .streamEnded(let problem):
                screen.finish()
                Terminal.error((problem ?? "the daemon closed the event stream (it is stopping?)") + "; the jobs go on")
                throw ExitStatus.unavailable
            }
            screen.draw(board)
        }
        // The outcome as the store has it: result or error, read once more.
        for id in board.ids { board.refresh(try await job(id)) }
        screen.draw(board)
        screen.finish()
        for entry in board.entries { print(try await summary(entry.id)) }
        if !board.entries.allSatisfy(\.succeeded) { throw ExitStatus.failure }
    }

    private func apply(_ event: ServerSentEvent, to board: inout WatchBoard) {
        switch event.event {
        case "job": _ = board.apply(transition: event.object)
        case "progress": _ = board.apply(progress: event.object, at: Date())
        default: break
        }
    }

    private func job(_ id: Int) async throws -> [String: Any] {
        try client.expectSuccess(try await client.get("/api/jobs/\(id)")).object
    }

    /// `#12 succeeded: /var/lib/ferry/downloads/12/a.mp4 (27.0 MiB, SHA-256 3f2a…)` or the error.
    private func summary(_ id: Int) async throws -> String {
        let job = try await job(id)
        let state = job["state"] as? String ?? "?"
        if let result = job["result"] as? [String: Any] {
            let size = (result["size"] as? NSNumber)?.int64Value ?? 0
            let sha = (result["sha256"] as? String ?? "").prefix(12)
            return
                "#\(id) \(state): \(result["location"] as? String ?? "") (\(ByteCount.describe(size)), SHA-256 \(sha)…)"
        }
        if let error = job["last_error"] as? [String: Any] {
            return "#\(id) \(state) (\(error["code"] as? String ?? "")): \(error["message"] as? String ?? "")"
        }
        return "#\(id) \(state)" + ((job["state_reason"] as? String).map { ": \($0)" } ?? "")
    }
}

/// Where the board is drawn: in place on a terminal (cursor moved back over the last drawing),
/// or as plain lines.
private struct Screen {
    let interactive: Bool
    private var drawnLines = 0
    private var printed: [Int: String] = [:]

    init(interactive: Bool) {
        self.interactive = interactive
    }

    mutating func draw(_ board: WatchBoard) {
        guard interactive else { return }
        var text = drawnLines > 0 ? "\u{1B}[\(drawnLines)A" : ""
        let lines = board.lines(width: Self.columns() - 1, bars: true)
        for line in lines { text += "\r\u{1B}[2K" + line + "\n" }
        drawnLines = lines.count
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// Plain lines (not on a terminal): the jobs whose state changed since they were last
    /// printed, or (`changedOnly` false, every few seconds) every job still under way.
    mutating func print(_ board: WatchBoard, changedOnly: Bool) {
        guard !interactive else { return }
        for entry in board.entries {
            let changed = printed[entry.id] != entry.state
            if changedOnly ? !changed : (entry.isFinal && !changed) { continue }
            printed[entry.id] = entry.state
            Swift.print(board.line(for: entry, width: 160, bars: false))
        }
    }

    mutating func finish() {
        drawnLines = 0
    }

    static func columns() -> Int {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 20 else { return 100 }
        return Int(size.ws_col)
    }
}

extension Sequence {
    /// `map` with an async transform, in order.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}

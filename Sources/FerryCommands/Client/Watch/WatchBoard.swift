import FerryCore
import Foundation

/// What `ferry jobs watch` knows about each job it follows: state, bytes, a smoothed rate, and
/// how it ended. Fed by the event stream; rendered by ``WatchBoard/lines(width:now:)``.
struct WatchBoard {
    struct Entry {
        var id: Int
        var name: String
        var state: String
        var bytesDone: Int64 = 0
        var bytesTotal: Int64?
        /// Bytes per second, smoothed; nil until two samples are known.
        var rate: Double?
        var lastSample: (at: Date, bytes: Int64)?
        /// Why it waits or how it failed (the last transition's reason, or the job's error).
        var note: String?

        var isFinal: Bool { JobState(rawValue: state)?.phase.isFinal ?? false }
        var succeeded: Bool { JobState(rawValue: state)?.phase == .succeeded }
    }

    private(set) var entries: [Entry]

    init(entries: [Entry]) {
        self.entries = entries
    }

    var ids: [Int] { entries.map(\.id) }
    var allFinal: Bool { entries.allSatisfy(\.isFinal) }

    /// A `job` event: a transition of one job.
    mutating func apply(transition object: [String: Any]) -> Bool {
        guard let id = object["job_id"] as? Int, let index = entries.firstIndex(where: { $0.id == id }),
            let to = object["to"] as? String
        else { return false }
        entries[index].state = to
        entries[index].note = object["reason"] as? String
        if to != "running" && to != "storing" { entries[index].rate = nil }
        return true
    }

    /// A `progress` event: bytes moved by one running job.
    mutating func apply(progress object: [String: Any], at now: Date) -> Bool {
        guard let id = object["job_id"] as? Int, let index = entries.firstIndex(where: { $0.id == id }),
            let done = (object["bytes_done"] as? NSNumber)?.int64Value
        else { return false }
        var entry = entries[index]
        if let state = object["state"] as? String { entry.state = state }
        entry.bytesTotal = (object["bytes_total"] as? NSNumber)?.int64Value ?? entry.bytesTotal
        if let last = entry.lastSample, now > last.at, done >= last.bytes {
            let instant = Double(done - last.bytes) / now.timeIntervalSince(last.at)
            // Exponential smoothing: steady enough to read, quick enough to follow a change.
            entry.rate = entry.rate.map { 0.7 * $0 + 0.3 * instant } ?? instant
        }
        entry.lastSample = (now, done)
        entry.bytesDone = done
        entries[index] = entry
        return true
    }

    /// Replaces what a fresh read of the job says (`GET /api/jobs/{id}`'s `job`).
    mutating func refresh(_ job: [String: Any]) {
        guard let id = job["id"] as? Int, let index = entries.firstIndex(where: { $0.id == id }) else { return }
        entries[index] = Self.entry(from: job, keeping: entries[index])
    }

    static func entry(from job: [String: Any], keeping old: Entry? = nil) -> Entry {
        let input = job["input"] as? [String: Any] ?? [:]
        let progress = job["progress"] as? [String: Any] ?? [:]
        let result = job["result"] as? [String: Any]
        let name =
            input["file_name"] as? String ?? (result?["location"] as? String).map { ($0 as NSString).lastPathComponent }
            ?? (input["url"] as? String).map(Self.lastComponent) ?? input["target"] as? String ?? "job"
        var entry = old ?? Entry(id: job["id"] as? Int ?? 0, name: name, state: "")
        entry.name = name
        entry.state = job["state"] as? String ?? entry.state
        entry.bytesDone = (progress["bytes_done"] as? NSNumber)?.int64Value ?? entry.bytesDone
        entry.bytesTotal = (progress["bytes_total"] as? NSNumber)?.int64Value ?? entry.bytesTotal
        if let error = job["last_error"] as? [String: Any], entry.state == "failed" || entry.state == "queued" {
            entry.note = "\(error["code"] as? String ?? "error"): \(error["message"] as? String ?? "")"
        } else {
            entry.note = job["state_reason"] as? String
        }
        return entry
    }

    private static func lastComponent(_ url: String) -> String {
        let path = url.split(separator: "?").first.map(String.init) ?? url
        let last = path.split(separator: "/").last.map(String.init) ?? url
        return last.isEmpty ? url : last
    }

    // MARK: Rendering

    /// One line per job: id, name, bar, percentage, bytes, rate, ETA and state, within `width`.
    func lines(width: Int, bars: Bool) -> [String] {
        entries.map { line(for: $0, width: width, bars: bars) }
    }

    func line(for entry: Entry, width: Int, bars: Bool) -> String {
        var parts: [String] = []
        if let total = entry.bytesTotal, total > 0 {
            let fraction = min(1, Double(entry.bytesDone) / Double(total))
            if bars {
                let cells = 20
                let filled = Int((fraction * Double(cells)).rounded(.down))
                parts.append(
                    "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: cells - filled) + "]")
            }
            parts.append(String(format: "%3.0f%%", fraction * 100))
            parts.append("\(ByteCount.describe(entry.bytesDone)) of \(ByteCount.describe(total))")
        } else if entry.bytesDone > 0 {
            parts.append(ByteCount.describe(entry.bytesDone))
        }
        if let rate = entry.rate, !entry.isFinal {
            parts.append("\(ByteCount.describe(Int64(rate)))/s")
            if let total = entry.bytesTotal, rate > 0, total > entry.bytesDone {
                parts.append("ETA \(Self.duration(Double(total - entry.bytesDone) / rate))")
            }
        }
        parts.append(entry.state)
        if let note = entry.note, !entry.succeeded, entry.state != "running" { parts.append("(\(note))") }
        let head = "#\(entry.id) \(entry.name)"
        let tail = parts.joined(separator: "  ")
        let room = max(8, width - tail.count - 2)
        let name =
            head.count > room
            ? String(head.prefix(room - 1)) + "…" : head.padding(toLength: room, withPad: " ", startingAt: 0)
        let text = name + "  " + tail
        return text.count > width ? String(text.prefix(width - 1)) + "…" : text
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let whole = Int(seconds.rounded(.up))
        if whole < 60 { return "\(whole) s" }
        if whole < 3600 { return "\(whole / 60) min \(whole % 60) s" }
        return "\(whole / 3600) h \(whole % 3600 / 60) min"
    }
}

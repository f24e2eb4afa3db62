import FerryCore

/// When the queue's finished states must be counted again. They are the table's whole retained
/// history, and counting them reads every row (200 ms for a million jobs on PostgreSQL), while the
/// status loop looks every busy second on every node and the admin page every 2 s. A full count
/// within `budget` is made at every look (a small table: exact counts); once one took longer, the
/// finished states' counts are kept for `interval`, and only the unfinished ones are counted
/// (ranges of the queue index).
struct FinishedCounts {
    var budget = Duration.milliseconds(50)
    var interval = Duration.seconds(60)
    /// The finished states' counts of the last full count that was dear.
    private(set) var kept: [QueueCount] = []
    private var keptAt: ContinuousClock.Instant?

    /// Whether the next look must count every row.
    func fullCountDue(at now: ContinuousClock.Instant) -> Bool {
        guard let keptAt else { return true }
        return now - keptAt >= interval
    }

    /// Records a full count and what it cost.
    mutating func counted(_ counts: [QueueCount], took: Duration, at now: ContinuousClock.Instant) {
        guard took > budget else {
            kept = []
            keptAt = nil
            return
        }
        kept = counts.filter { $0.state.phase.isFinal }
        keptAt = now
    }
}

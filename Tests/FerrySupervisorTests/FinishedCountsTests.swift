import FerryCore
import Testing

@testable import FerrySupervisor

@Suite("When the finished jobs are counted again")
struct FinishedCountsTests {
    let counts = [
        QueueCount(kind: .download, state: .queued, count: 3, oldestCreatedAt: nil),
        QueueCount(kind: .download, state: .succeeded, count: 1_000_000, oldestCreatedAt: nil),
        QueueCount(kind: .upload, state: .failed, count: 7, oldestCreatedAt: nil),
    ]

    @Test("A cheap full count is made at every look")
    func cheapCountsAreExact() {
        var finished = FinishedCounts()
        let now = ContinuousClock.now
        #expect(finished.fullCountDue(at: now))
        finished.counted(counts, took: .milliseconds(3), at: now)
        #expect(finished.fullCountDue(at: now + .milliseconds(1)))
        #expect(finished.kept.isEmpty)
    }

    @Test("A dear full count keeps the finished states for the interval, then counts them again")
    func dearCountsAreKept() {
        var finished = FinishedCounts()
        let now = ContinuousClock.now
        finished.counted(counts, took: .milliseconds(200), at: now)
        #expect(finished.kept.map(\.state) == [.succeeded, .failed])
        #expect(!finished.fullCountDue(at: now + .seconds(59)))
        #expect(finished.fullCountDue(at: now + .seconds(60)))
        // The table shrank (retention): the next full count is cheap again, and exact from then on.
        finished.counted(counts, took: .milliseconds(5), at: now + .seconds(60))
        #expect(finished.fullCountDue(at: now + .seconds(61)) && finished.kept.isEmpty)
    }
}

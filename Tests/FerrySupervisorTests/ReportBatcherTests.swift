import FerryCore
import Testing

@testable import FerrySupervisor

/// What the fleet's next commit takes from what its workers said.
@Suite("The report batcher")
struct ReportBatcherTests {
    static func progress(_ job: Int64, of worker: String, bytes: Int64) -> ProgressReport {
        ProgressReport(
            lease: JobLease(jobID: JobID(job), owner: WorkerID(worker), attempt: 1),
            progress: JobProgress(bytesDone: bytes, bytesTotal: 100), resumeState: "{\"bytes\":\(bytes)}")
    }

    @Test("Progress waits for its interval, except the last word of a worker that exited; an outcome drops its job's")
    func progressInterval() {
        var batcher = ReportBatcher()
        let start = ContinuousClock.now
        batcher.add(Self.progress(1, of: "download-1.a", bytes: 10))
        batcher.add(Self.progress(2, of: "download-2.b", bytes: 20))
        batcher.add(Self.progress(2, of: "download-2.b", bytes: 30))
        batcher.heard(from: WorkerID("download-1.a"))

        // Within the interval: heartbeats go, progress stays.
        var taken = batcher.take(now: start)
        #expect(taken.batch.heartbeats == [WorkerID("download-1.a")] && taken.batch.progress.isEmpty)
        // A worker that exited: its jobs' latest progress goes now, the others' stays.
        taken = batcher.take(now: start, flushingProgressOf: WorkerID("download-2.b"))
        #expect(taken.batch.progress.map(\.progress.bytesDone) == [30])
        // An outcome makes the job's unwritten progress moot.
        let lease = JobLease(jobID: JobID(1), owner: WorkerID("download-1.a"), attempt: 1)
        batcher.add(
            WorkerMessage.Outcome(lease: lease, result: .stopped(resumeState: nil)), from: WorkerID("download-1.a"),
            role: .download)
        taken = batcher.take(now: start + .seconds(2))
        #expect(taken.batch.progress.isEmpty)
        #expect(taken.entries.count == 1 && taken.batch.reports.count == 1)
        guard case .stopped(let stopped, _, _) = taken.batch.reports[0] else {
            Issue.record("a stop became \(taken.batch.reports[0])")
            return
        }
        #expect(stopped == lease)
        // Once taken, nothing is taken twice.
        #expect(batcher.take(now: start + .seconds(4)).batch.isEmpty)
    }

    @Test("Heartbeats alone wait up to their delay, so idle workers share one commit; anything else takes them along")
    func heartbeatsWait() {
        var batcher = ReportBatcher()
        let start = ContinuousClock.now
        let delay = Duration.seconds(15)
        batcher.heard(from: WorkerID("download-1.a"), at: start)
        batcher.heard(from: WorkerID("upload-1.b"), at: start + .seconds(5))
        #expect(batcher.commitDue(heartbeatDelay: delay) == start + delay)
        #expect(batcher.take(now: start + .seconds(10), heartbeatDelay: delay).batch.isEmpty)
        let due = batcher.take(now: start + delay, heartbeatDelay: delay).batch
        #expect(Set(due.heartbeats) == [WorkerID("download-1.a"), WorkerID("upload-1.b")])
        #expect(batcher.commitDue(heartbeatDelay: delay) == nil)

        // A report commits now, and the heartbeat heard meanwhile rides along.
        batcher.heard(from: WorkerID("download-1.a"), at: start + .seconds(20))
        let lease = JobLease(jobID: JobID(1), owner: WorkerID("download-1.a"), attempt: 1)
        batcher.add(
            WorkerMessage.Outcome(lease: lease, result: .stopped(resumeState: nil)), from: WorkerID("download-1.a"),
            role: .download)
        let taken = batcher.take(now: start + .seconds(21), heartbeatDelay: delay).batch
        #expect(taken.reports.count == 1 && taken.heartbeats == [WorkerID("download-1.a")])
    }
}

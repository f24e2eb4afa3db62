import FerryCore
import Testing

@testable import FerryWorkers

/// Which progress reports a worker sends: all but a job's first that is already complete.
@Suite("A small file's only progress report is left to its outcome")
struct ProgressReportRuleTests {
    @Test("A job's first report, already complete and not waiting, is not sent")
    func firstCompleteIsNotSent() {
        #expect(!WorkerRuntime.sends(JobProgress(bytesDone: 65_536, bytesTotal: 65_536), reportedBefore: false))
        #expect(!WorkerRuntime.sends(JobProgress(bytesDone: 0, bytesTotal: 0), reportedBefore: false))
    }

    @Test(
        "Every other report is sent",
        arguments: [
            (JobProgress(bytesDone: 65_536, bytesTotal: 65_536), true),  // the end of a transfer that reported before
            (JobProgress(bytesDone: 1_000, bytesTotal: 65_536), false),  // a first report part-way
            (JobProgress(bytesDone: 1_000, bytesTotal: nil), false),  // size unknown
            (JobProgress(bytesDone: 0, bytesTotal: 0, waiting: true), false),  // waiting for a turn
        ])
    func othersAreSent(progress: JobProgress, reportedBefore: Bool) {
        #expect(WorkerRuntime.sends(progress, reportedBefore: reportedBefore))
    }
}

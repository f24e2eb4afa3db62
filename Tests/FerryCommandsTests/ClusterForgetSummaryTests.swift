import FerryCore
import Testing

@testable import FerryCommands

@Suite("What `ferry cluster forget` prints")
struct ClusterForgetSummaryTests {
    static var report: ForgottenNode {
        var report = ForgottenNode()
        report.incarnations = ["beta.1a2b", "beta.3c4d"]
        report.released = [JobID(7)]
        report.refetched = [JobID(3), JobID(5)]
        report.lost = [JobID(9)]
        return report
    }

    @Test("A real forget lists what it did, each kind of record on its own line, none where there was none")
    func realForget() {
        let text = ClusterCommand.Forget.summary(Self.report, name: "beta")
        #expect(
            text == """
                forgot node beta (beta.1a2b, beta.3c4d)
                jobs put back in the queue: 7
                downloads to fetch again on a live node: 3, 5
                delivered downloads whose uploads are now marked cleaned: none
                records whose file cannot come back (adopted from a file there, or a video in its folder): 9
                """)
    }

    @Test("A dry run says first that nothing was changed, then what forgetting would do")
    func dryRun() {
        let text = ClusterCommand.Forget.summary(Self.report, name: "beta", dryRun: true)
        #expect(text.hasPrefix("dry run: nothing was changed; forgetting node beta (beta.1a2b, beta.3c4d) now would\n"))
        #expect(text.contains("fetch again on a live node: 3, 5\n"))
        #expect(text.contains("mark the uploads cleaned of the delivered downloads: none\n"))
    }
}

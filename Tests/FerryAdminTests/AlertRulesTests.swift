import FerryTesting
import Foundation
import Testing

/// The example alert rules in Config/alerts, checked by Prometheus's own `promtool` (Debian's
/// prometheus package, installed by .ci/install-deps).
@Suite("Example alert rules")
struct AlertRulesTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Config/alerts")

    func promtool(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try ChildProcess.run("promtool", arguments, in: Self.folder)
    }

    @Test("promtool accepts the rules")
    func rulesAreValid() throws {
        let check = try promtool(["check", "rules", "ferry-alerts.yml"])
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("SUCCESS: 10 rules found"))
    }

    @Test("The rules' unit tests pass: crash loop, full disk, missing workers, frequent restarts")
    func ruleTestsPass() throws {
        let run = try promtool(["test", "rules", "ferry-alerts.test.yml"])
        #expect(run.status == 0, "\(run.output)")
    }
}

import FerryCore
import Foundation
import Testing

@testable import FerryStore

/// The wall clock stepping under a running store: the fixture's clock is the wall clock and
/// moves by hand while the monotonic clock (real) barely moves, which is exactly a step.
@Suite("Wall-clock steps")
struct WallClockStepTests {
    static let policies = RetryPolicies(
        download: RetryPolicy(maxAttempts: 3, initialDelay: .seconds(10), maxDelay: .seconds(10), jitter: .none),
        upload: RetryPolicies.standard.upload, video: RetryPolicies.standard.video)

    @Test("A step forward moves waiting jobs with it: a retry due in 10 s stays due in 10 s, a due job stays due")
    func forward() async throws {
        let began = ContinuousClock.now
        let (fixture, owner, failing, retryDue, waiting) = try await Self.retryAndDueJob()
        fixture.clock.advance(by: 3600)
        // Only the job that was due already is taken; the retry still has its 10 s to wait.
        let claimed = try await fixture.store.claimDueJobs(of: .download, for: owner, limit: 10)
        #expect(claimed.map(\.job.id) == [waiting.id])
        let moved = try await fixture.store.job(failing.job.id).dueAt.timeIntervalSince(retryDue)
        #expect(Self.isStep(of: 3600, moved: moved, since: began))
        #expect(try await fixture.store.job(failing.job.id).state == .queued)
    }

    @Test("A step back moves them back: the retry is not pushed ten minutes later, a due job stays due")
    func back() async throws {
        let began = ContinuousClock.now
        let (fixture, owner, failing, retryDue, waiting) = try await Self.retryAndDueJob()
        fixture.clock.advance(by: -600)
        #expect(try await fixture.store.kindsWithDueWork(among: [.download]) == [.download])
        let looked = ContinuousClock.now
        let claimed = try await fixture.store.claimDueJobs(of: .download, for: owner, limit: 10)
        #expect(claimed.map(\.job.id) == [waiting.id])
        let moved = try await fixture.store.job(failing.job.id).dueAt.timeIntervalSince(retryDue)
        #expect(Self.isStep(of: -600, moved: moved, since: began))
        // Once is enough: with the wall clock going on as real time does (the fixture's stands
        // still unless moved), the next look sees no new step and moves nothing.
        let passed = ContinuousClock.now - looked
        fixture.clock.advance(by: Double(passed.components.seconds) + Double(passed.components.attoseconds) / 1e18)
        _ = try await fixture.store.claimDueJobs(of: .download, for: owner, limit: 10)
        #expect(try await fixture.store.job(failing.job.id).dueAt.timeIntervalSince(retryDue) == moved)
    }

    /// Whether a due time moved by `step` seconds of the wall clock, less the real time that
    /// passed meanwhile (the step is measured against the monotonic clock, which went on).
    static func isStep(of step: Double, moved: Double, since began: ContinuousClock.Instant) -> Bool {
        let elapsed = Double((ContinuousClock.now - began).components.seconds) + 1
        return moved <= step + 0.01 && moved >= step - elapsed
    }

    /// A store following steps, holding a download waiting 10 s for its retry (and when it is
    /// due) and one due now.
    static func retryAndDueJob() async throws -> (StoreFixture, WorkerID, ClaimedJob, Date, Job) {
        let fixture = try StoreFixture(policies: policies, followsWallClockSteps: true)
        let owner = try await fixture.worker("download-1.a")
        let failing = try await fixture.runningDownload(owner: owner)
        _ = try await fixture.store.fail(failing.lease, with: .retryable("http_500", "the origin failed"))
        let retryDue = try await fixture.store.job(failing.job.id).dueAt
        let waiting = try await fixture.store.enqueue(
            download: DownloadRequest(spec: DownloadSpec(url: "https://e.test/waiting"))
        ).job
        return (fixture, owner, failing, retryDue, waiting)
    }

    @Test("Without following steps (the default, for stores whose clock tests move), moving the clock makes work due")
    func notFollowing() async throws {
        let fixture = try StoreFixture(policies: Self.policies)
        let owner = try await fixture.worker("download-1.a")
        let failing = try await fixture.runningDownload(owner: owner)
        _ = try await fixture.store.fail(failing.lease, with: .retryable("http_500", "the origin failed"))
        fixture.clock.advance(by: 11)
        let claimed = try await fixture.store.claimDueJobs(of: .download, for: owner, limit: 10)
        #expect(claimed.map(\.job.id) == [failing.job.id])
    }
}

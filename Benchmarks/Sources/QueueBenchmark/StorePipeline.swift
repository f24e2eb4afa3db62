import FerryCore
import Foundation

/// The measured loop, the same on every ``JobStore``: the SQLite and the PostgreSQL benchmark
/// run exactly this code, so their rows differ only by the store underneath.
enum StorePipeline {
    /// The time each step took over the whole run; `claim` is nil where the claim rides in the
    /// completing transaction (group commit).
    struct Timings {
        var enqueue = Duration.zero
        var claim: Duration?
        var complete = Duration.zero
        var total: Duration { enqueue + (claim ?? .zero) + complete }
    }

    static func requests(_ count: Int, from first: Int) -> [DownloadRequest] {
        (0..<count).map { DownloadRequest(spec: DownloadSpec(url: "https://origin.example/file-\(first + $0)")) }
    }

    static func completions(of claimed: [ClaimedJob]) -> [JobCompletion] {
        let sha = String(repeating: "ab", count: 32)
        return claimed.map {
            JobCompletion(lease: $0.lease, result: JobResult(location: "/spool/\($0.job.id)", size: 1, sha256: sha))
        }
    }

    /// Repeats: enqueue `batch` downloads, claim them, complete them; three transactions per batch.
    static func run(_ store: some JobStore, owner: WorkerID, batch: Int, jobs: Int) async throws -> Timings {
        let clock = ContinuousClock()
        var timings = Timings(claim: .zero)
        var done = 0
        while done < jobs {
            let count = min(batch, jobs - done)
            let start = clock.now
            _ = try await store.enqueue(downloads: requests(count, from: done))
            let enqueued = clock.now
            let claimed = try await store.claimDueJobs(of: .download, for: owner, limit: count)
            let claimedAt = clock.now
            _ = try await store.complete(completions(of: claimed))
            let completed = clock.now
            guard claimed.count == count else {
                throw StoreError(.corrupt, "claimed \(claimed.count) of \(count) jobs")
            }
            timings.enqueue += enqueued - start
            timings.claim? += claimedAt - enqueued
            timings.complete += completed - claimedAt
            done += count
        }
        return timings
    }

    /// Enqueue a batch, then one transaction completes the batch before it and claims this one:
    /// the supervisor's own pattern (``JobStore/apply(_:)``), two transactions per batch.
    static func runGrouped(_ store: some JobStore, owner: WorkerID, batch: Int, jobs: Int) async throws -> Timings {
        let clock = ContinuousClock()
        var timings = Timings()
        var held: [ClaimedJob] = []
        var enqueued = 0
        while enqueued < jobs || !held.isEmpty {
            let count = min(batch, jobs - enqueued)
            let start = clock.now
            if count > 0 { _ = try await store.enqueue(downloads: requests(count, from: enqueued)) }
            let afterEnqueue = clock.now
            let claims = count > 0 ? [ReportBatch.Claim(kind: .download, owner: owner, limit: count)] : []
            let reports = completions(of: held).map { ReportBatch.Report.completed($0) }
            let applied = try await store.apply(ReportBatch(reports: reports, claims: claims))
            timings.complete += clock.now - afterEnqueue
            timings.enqueue += afterEnqueue - start
            guard applied.reports.allSatisfy({ if case .success = $0 { true } else { false } }) else {
                throw StoreError(.corrupt, "a completion was refused: \(applied.reports)")
            }
            held = try applied.claims.first?.get() ?? []
            guard held.count == count else { throw StoreError(.corrupt, "claimed \(held.count) of \(count) jobs") }
            enqueued += count
        }
        return timings
    }

    /// Succeeded downloads in the store, to check afterwards that no job was lost.
    static func succeeded(in store: some JobStore) async throws -> Int {
        try await store.queueCounts().filter { $0.kind == .download && $0.state == .succeeded }.reduce(0) {
            $0 + $1.count
        }
    }

    /// One tab-separated row in the columns every queue benchmark prints (see `header`).
    static func row(name: String, durability: String, batch: Int, jobs: Int, _ timings: Timings) -> String {
        let rate = { (duration: Duration) in String(format: "%.0f", Double(jobs) / duration.inSeconds) }
        let claim = timings.claim.map(rate) ?? "-"
        let complete = timings.claim == nil ? "\(rate(timings.complete)) (with the claim)" : rate(timings.complete)
        return [
            name, durability, String(batch), String(jobs), rate(timings.enqueue), claim, complete, rate(timings.total),
            String(format: "%.2f", timings.total.inSeconds),
        ].joined(separator: "\t")
    }

    static let header =
        "scenario\tsynchronous\tjobs_per_txn\tjobs\tenqueue_per_s\tclaim_per_s\tcomplete_per_s\tpipeline_jobs_per_s\tseconds"
}

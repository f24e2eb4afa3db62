import FerryCore
import Foundation

/// What a long backlog in a serial lane (a Telegram chat: about one upload a second) costs the
/// uploads of every other target and an idle supervisor. `held` downloads finish with an upload
/// to the serial target `tg`, then `held` more with an upload to `s3`; the lane's head runs (the
/// lane is busy), and the `s3` uploads are claimed and completed one at a time, as worker slots
/// free up. Each of those claims passes over the lane's older, waiting uploads. The baseline is
/// the same store with `tg` not serial (nothing held). Then the supervisor's idle looks
/// (`kindsWithDueWork`, `earliestDue`) are timed with only the held uploads left.
enum LaneBacklog {
    struct Figures {
        var claimMicroseconds: Double
        var dueLookMicroseconds: Double
        var earliestLookMicroseconds: Double
    }

    static let header = "lanes\theld_uploads\tclaim_one_us\tdue_look_us\tearliest_due_look_us"

    /// Fills `store` with `held` finished downloads and measures; `serial` says whether the
    /// store was opened with `tg` as a serial target (the figures then pass over a held lane).
    static func measure(_ store: some JobStore, held: Int, serial: Bool, owner: String) async throws -> Figures {
        let downloader = WorkerID("\(owner)-download")
        let uploader = WorkerID("\(owner)-upload")
        try await store.registerWorker(
            WorkerRecord(id: downloader, role: .download, slot: 1, pid: getpid(), startedAt: Date()))
        try await store.registerWorker(
            WorkerRecord(id: uploader, role: .upload, slot: 1, pid: getpid(), startedAt: Date()))
        for target in ["tg", "s3"] {
            var made = 0
            while made < held {
                let count = min(500, held - made)
                _ = try await store.enqueue(
                    downloads: (0..<count).map {
                        DownloadRequest(
                            spec: DownloadSpec(
                                url: "https://origin.example/\(target)-\(made + $0)", uploadTargets: [target]))
                    })
                let claimed = try await store.claimDueJobs(of: .download, for: downloader, limit: count)
                _ = try await store.complete(StorePipeline.completions(of: claimed))
                made += count
            }
        }
        // The lane's head runs (with a lane) and stays running: every later claim passes the rest.
        let clock = ContinuousClock()
        var claims = Duration.zero
        var measured = 0
        var running: [ClaimedJob] = []
        while true {
            let start = clock.now
            let claimed = try await store.claimDueJobs(of: .upload, for: uploader, limit: 1)
            let took = clock.now - start
            guard let job = claimed.first else { break }
            guard case .upload(let spec) = try await store.payload(of: job.job.id) else { continue }
            if spec.target == "tg", serial {
                running.append(job)  // the lane's head: held running for the rest of the run
                continue
            }
            claims += took
            measured += 1
            _ = try await store.complete(StorePipeline.completions(of: [job]))
            if !serial, measured >= held { break }  // the baseline measures as many claims
        }
        let looks = 20
        var due = Duration.zero
        var earliest = Duration.zero
        for _ in 0..<looks {
            let start = clock.now
            _ = try await store.kindsWithDueWork(among: [.upload])
            let middle = clock.now
            _ = try await store.earliestDue(among: [.upload])
            due += middle - start
            earliest += clock.now - middle
        }
        _ = try await store.complete(StorePipeline.completions(of: running))
        let microseconds = { (duration: Duration, count: Int) in duration.inSeconds * 1e6 / Double(max(count, 1)) }
        return Figures(
            claimMicroseconds: microseconds(claims, measured), dueLookMicroseconds: microseconds(due, looks),
            earliestLookMicroseconds: microseconds(earliest, looks))
    }

    static func row(serial: Bool, held: Int, _ figures: Figures) -> String {
        [
            serial ? "tg serial (lane held)" : "no lane (baseline)", String(held),
            String(format: "%.0f", figures.claimMicroseconds), String(format: "%.0f", figures.dueLookMicroseconds),
            String(format: "%.0f", figures.earliestLookMicroseconds),
        ].joined(separator: "\t")
    }
}

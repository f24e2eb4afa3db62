import FerryCore
import FerryStore
import Foundation
import Testing

/// Workers that stall, are recycled, or are stopped twice: their jobs are never lost.
extension ProcessSuites.SupervisorJobTests {
    @Test("A job that moves no bytes is taken from its worker and retried; the worker itself lives on")
    func stalledJobIsHandedOn() async throws {
        let (origin, harness, store) = try startReady(["FERRY_SUPERVISOR_STALL_TIMEOUT": "1s"])
        let worker = try #require(harness.workers()[.download]?.first)
        let spec = DownloadSpec(url: origin.url(size: 1_000_000, stallAfter: 32_768))
        let id = try await store.enqueue(download: DownloadRequest(spec: spec)).job.id
        let job = try await waitForJob(store, id, timeout: 20) { $0.lastError?.code == "stalled" }
        #expect(job.lastError?.code == "stalled", "\(job.state) \(job.lastError?.message ?? "")")
        #expect(job.lastError?.message.contains("no bytes moved") == true)
        let events = try await store.events(of: id)
        #expect(events.map(\.cause).prefix(3) == ["create", "claim", "schedule_retry"])
        #expect(harness.workers()[.download] == [worker], "a stalled job does not cost its worker its life")
        #expect(harness.stop() == 0)
    }

    @Test("A worker is recycled after its share of jobs; every job still succeeds")
    func recycledAfterJobs() async throws {
        let (origin, harness, store) = try startReady(["FERRY_WORKERS_DOWNLOAD_RECYCLE_AFTER_JOBS": "2"])
        let first = try #require(harness.workers()[.download]?.first)
        var ids: [JobID] = []
        for _ in 0..<3 {
            ids.append(
                try await store.enqueue(download: DownloadRequest(spec: .init(url: origin.url(size: 5000)))).job.id)
        }
        for id in ids {
            let job = try await waitForJob(store, id) { $0.state.phase.isFinal }
            #expect(job.state == .succeeded, "job \(id): \(job.state) \(job.lastError?.message ?? "")")
        }
        // The drained worker exits once its last job is reported; its exit record follows.
        #expect(harness.waitForWorkers { ($0[.download] ?? []).contains { $0 != first } })
        let records = try await waitForWorkerRecords(store) { $0.contains { $0.pid == first && $0.exit != nil } }
        #expect(records.contains { $0.pid == first && $0.exit?.reason == "recycled" }, "\(records)")
        #expect(harness.stop() == 0)
    }

    @Test("A worker above its memory limit is drained and replaced, as sampled from /proc")
    func recycledAboveMemoryLimit() async throws {
        let (_, harness, store) = try startReady([
            "FERRY_WORKERS_UPLOAD_RECYCLE_ABOVE_MEMORY_MIB": "1", "FERRY_SUPERVISOR_METRICS_INTERVAL": "1s",
        ])
        let first = try #require(harness.workers()[.upload]?.first)
        let downloader = try #require(harness.workers()[.download]?.first)
        #expect(harness.waitForWorkers { !($0[.upload] ?? []).contains(first) && !($0[.upload] ?? []).isEmpty })
        let records = try await waitForWorkerRecords(store) { $0.contains { $0.pid == first && $0.exit != nil } }
        #expect(records.contains { $0.pid == first && $0.exit?.reason == "recycled" }, "\(records)")
        #expect(harness.workers()[.download] == [downloader], "a role without a limit is left alone")
        #expect(harness.stop() == 0)
    }

    @Test("A second SIGTERM cuts the drain short: workers are killed at once and their job is requeued")
    func secondSigtermKills() async throws {
        let (origin, harness, store) = try startReady(["FERRY_SUPERVISOR_SHUTDOWN_GRACE": "60s"])
        let spec = DownloadSpec(url: origin.url(size: 50_000_000, rate: 100_000))
        let id = try await store.enqueue(download: DownloadRequest(spec: spec)).job.id
        _ = try await waitForJob(store, id) { $0.state == .running }
        let worker = try #require(harness.workers()[.download]?.first)
        kill(harness.pid, SIGTERM)
        #expect(harness.waitForNotification(containing: "STOPPING=1", timeout: 10) != nil)
        // The worker is draining: it would wait for the 8-minute transfer.
        usleep(500_000)
        #expect(ProcessTable.isAlive(worker))
        let started = Date()
        kill(harness.pid, SIGTERM)
        #expect(harness.stop() == 0)
        #expect(Date().timeIntervalSince(started) < 15, "the second SIGTERM did not hurry the stop")
        #expect(!ProcessTable.isAlive(worker))
        let job = try await store.job(id)
        #expect(job.state == .queued, "the interrupted job waits for the next start")
        #expect(job.owner == nil)
    }

    /// Worker records, read until `condition` holds or 20 s pass.
    func waitForWorkerRecords(
        _ store: SQLiteJobStore, until condition: ([WorkerRecord]) -> Bool
    ) async throws -> [WorkerRecord] {
        let deadline = Date().addingTimeInterval(20)
        var records = try await store.workers(includeExited: true, limit: 50)
        while !condition(records) && Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
            records = try await store.workers(includeExited: true, limit: 50)
        }
        return records
    }
}

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
        let records = try await store.workers(includeExited: true, limit: 20).filter { $0.role == .download }
        #expect(records.contains { $0.pid == first && $0.exit?.reason == "recycled" }, "\(records)")
        #expect(harness.waitForWorkers { ($0[.download] ?? []).contains { $0 != first } })
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
}

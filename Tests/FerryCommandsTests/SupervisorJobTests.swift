import FerryCore
import FerryStore
import FerryTesting
import Foundation
import Testing

extension ProcessSuites {
    /// Jobs through the supervisor and its real workers, against a real HTTP origin on loopback.
    @Suite("Running jobs under the supervisor", .serialized)
    struct SupervisorJobTests {
        /// A writable store next to the supervisor's, as another process would open it.
        func writableStore(_ harness: SupervisorHarness) throws -> SQLiteJobStore {
            try SQLiteJobStore.open(
                StoreConfiguration(path: harness.scratch.url.appendingPathComponent("ferry-state/ferry.sqlite").path))
        }

        /// An origin and a supervisor that has said READY, with a store to enqueue into.
        func startReady(
            _ environment: [String: String] = [:]
        ) throws -> (
            TestOrigin, SupervisorHarness, SQLiteJobStore
        ) {
            let origin = try TestOrigin()
            let harness = try SupervisorHarness(
                environment: SupervisorProcessTests.fast.merging(environment) { $1 })
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            return (origin, harness, try writableStore(harness))
        }

        func waitForJob(
            _ store: SQLiteJobStore, _ id: JobID, timeout: Double = 30, until condition: (Job) -> Bool
        ) async throws -> Job {
            let deadline = Date().addingTimeInterval(timeout)
            var job = try await store.job(id)
            while !condition(job) && Date() < deadline {
                try await Task.sleep(for: .milliseconds(50))
                job = try await store.job(id)
            }
            return job
        }

        @Test("A download is dispatched, streamed, verified and published; the record points at the whole file")
        func downloadCompletes() async throws {
            let (origin, harness, store) = try startReady()
            let size = 300_000
            let sha = try TestOrigin.sha256(size: size)
            let spec = DownloadSpec(
                url: origin.url(size: size), fileName: "clip.bin", expectedSize: Int64(size), expectedSHA256: sha)
            let id = try await store.enqueue(download: DownloadRequest(spec: spec)).job.id
            let job = try await waitForJob(store, id) { $0.state.phase.isFinal }
            #expect(job.state == .succeeded, "\(job.lastError?.message ?? "")")
            let result = try #require(job.result)
            #expect(result.sha256 == sha)
            #expect(result.size == Int64(size))
            #expect(result.location.hasSuffix("/downloads/\(id)/clip.bin"))
            #expect(try TestOrigin.sha256(ofFile: result.location) == sha)
            let spool = harness.scratch.url.appendingPathComponent("ferry-state/spool").path
            #expect(try FileManager.default.contentsOfDirectory(atPath: spool).isEmpty, "no partial file left behind")
            #expect(harness.stop() == 0)
        }

        @Test(
            "SIGKILL of a worker mid-transfer: the job is requeued at once and the replacement resumes it with a Range request"
        )
        func killedMidTransfer() async throws {
            let (origin, harness, store) = try startReady()
            let size = 2_000_000
            let sha = try TestOrigin.sha256(size: size)
            var options = TestOrigin.Options(key: "killed-\(UUID())")
            // Slow enough that the job is still running when its first progress is recorded (at
            // most a second after the transfer starts), even on a loaded machine.
            options.rate = 300_000
            let spec = DownloadSpec(url: origin.url(size: size, options), expectedSHA256: sha)
            let id = try await store.enqueue(download: DownloadRequest(spec: spec)).job.id
            let running = try await waitForJob(store, id) { $0.state == .running && $0.progress.bytesDone > 0 }
            #expect(running.state == .running)
            let owner = try #require(running.owner)
            let victim = try #require(harness.workers()[.download]?.first)
            kill(victim, SIGKILL)
            let done = try await waitForJob(store, id, timeout: 60) { $0.state.phase.isFinal }
            #expect(done.state == .succeeded, "\(done.lastError?.message ?? "")")
            #expect(done.attempt == 2, "the killed attempt counts, the replacement's succeeds")
            #expect(try TestOrigin.sha256(ofFile: try #require(done.result).location) == sha)
            let events = try await store.events(of: id)
            #expect(events.map(\.cause) == ["create", "claim", "requeue", "claim", "complete"])
            #expect(events[2].owner == owner)
            #expect(events[2].reason?.contains("exited (signal)") == true)
            // The replacement continued the killed attempt's partial file instead of starting over.
            let log = try await origin.log(options.key!)
            #expect(log.count == 2)
            #expect(log.last?.status == 206, "\(log.map { $0.range ?? "-" })")
            #expect(log.last?.ifRange == "\"v0-\(size)\"")
            let spool = harness.scratch.url.appendingPathComponent("ferry-state/spool").path
            #expect(try FileManager.default.contentsOfDirectory(atPath: spool).isEmpty)
            #expect(harness.stop() == 0)
        }

        @Test("While the spool folder is below its reserve, downloads wait and health says why")
        func spoolReserveHoldsDownloads() async throws {
            let (origin, harness, store) = try startReady(["FERRY_DOWNLOADS_SPOOL_RESERVE": "1000TiB"])
            let id = try await store.enqueue(download: DownloadRequest(spec: DownloadSpec(url: origin.url(size: 1000))))
                .job.id
            try await Task.sleep(for: .seconds(2))
            let job = try await store.job(id)
            #expect(job.state == .queued, "no download starts below the reserve")
            #expect(job.attempt == 0, "waiting costs no attempt")
            let health = try await AdminClient(baseURL: try harness.adminURL()).get("/api/health/system")
            #expect(health.json["status"] as? String == "warn")
            #expect(health.body.contains("below its reserve"), "\(health.body)")
            #expect(harness.stop() == 0)
        }

        @Test("A permanent HTTP error fails the job at once with the status kept")
        func permanentFailure() async throws {
            let (origin, harness, store) = try startReady()
            let spec = DownloadSpec(url: "http://127.0.0.1:\(origin.port)/missing")
            let id = try await store.enqueue(download: DownloadRequest(spec: spec)).job.id
            let job = try await waitForJob(store, id) { $0.state.phase.isFinal }
            #expect(job.state == .failed)
            #expect(job.lastError?.code == "http_404")
            #expect(job.attempt == 1)
            #expect(harness.stop() == 0)
        }
    }
}

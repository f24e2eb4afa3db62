import FerryCore
import FerryStore
import FerryTesting
import Foundation
import Testing

extension ProcessSuites {
    /// An idle supervisor sleeps until its next deadline; work must still start at once.
    @Suite("An idle supervisor wakes for work", .serialized)
    struct IdleWakeTests {
        /// A supervisor on its default intervals that has said READY and had time to fall idle
        /// (its first look at each empty queue, then the rest until the next one).
        func startIdle() async throws -> (TestOrigin, SupervisorHarness, AdminClient) {
            let origin = try TestOrigin()
            let harness = try SupervisorHarness()
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let client = AdminClient(baseURL: try harness.adminURL())
            try await Task.sleep(for: .seconds(3))
            return (origin, harness, client)
        }

        /// Seconds from a job's creation to its first claim, from its event log, once it succeeded.
        func secondsToClaim(_ id: JobID, in harness: SupervisorHarness) async throws -> Double {
            let store = try harness.store()
            let deadline = Date().addingTimeInterval(30)
            while try await store.job(id).state != .succeeded, Date() < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(try await store.job(id).state == .succeeded)
            let events = try await store.events(of: id)
            let created = try #require(events.first { $0.cause == "create" })
            let claimed = try #require(events.first { $0.cause == "claim" })
            return claimed.at.timeIntervalSince(created.at)
        }

        @Test("A download sent through the API to an idle supervisor is claimed within a second")
        func apiEnqueueWakesIt() async throws {
            let (origin, harness, client) = try await startIdle()
            let created = try await client.post("/api/downloads", json: #"{"url": "\#(origin.url(size: 2000))"}"#)
            #expect(created.status == 201, "\(created.body)")
            let id = try #require(created.json["id"] as? Int)
            let wait = try await secondsToClaim(JobID(Int64(id)), in: harness)
            #expect(wait < 1, "claimed \(wait) s after it was created")
            #expect(harness.stop() == 0)
        }

        @Test("A download written straight into the database by another process is claimed within the external check")
        func externalWriteIsNoticed() async throws {
            let (origin, harness, _) = try await startIdle()
            let store = try SQLiteJobStore.open(
                StoreConfiguration(path: harness.scratch.url.appendingPathComponent("ferry-state/ferry.sqlite").path))
            let id = try await store.enqueue(download: DownloadRequest(spec: DownloadSpec(url: origin.url(size: 2000))))
                .job.id
            let wait = try await secondsToClaim(id, in: harness)
            // The supervisor asks the store for others' writes every 5 s; a second more for a busy machine.
            #expect(wait < 6, "claimed \(wait) s after it was created")
            #expect(harness.stop() == 0)
        }
    }
}

import FerryCore
import FerryStore
import FerryTesting
import Foundation
import Testing

extension ProcessSuites {
    /// Cleanup runs through the real supervisor, its cleanup worker and the admin API, against
    /// real damage in the state folder.
    @Suite("Cleanup: reconciling records with files", .serialized)
    struct CleanupTests {
        @Test(
            "A dry run reports a missing video, a file with no record, a stale partial and a stray name, and changes nothing; the real run repairs them"
        )
        func checkThenRepair() async throws {
            let origin = try TestOrigin()
            let harness = try SupervisorHarness(
                environment: SupervisorProcessTests.fast.merging([
                    "FERRY_CLEANUP_SETTLE_TIME": "0s", "FERRY_CLEANUP_RUN_INTERVAL": "0s",
                ]) { $1 })
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let store = try SupervisorJobTests().writableStore(harness)
            let size = 300_000
            let sha = try TestOrigin.sha256(size: size)
            let videoID = try await store.enqueue(
                video: VideoRequest(
                    spec: VideoSpec(userID: "u1", externalRequestID: "clip", sourceURL: origin.url(size: size)))
            ).job.id
            let stored = try await SupervisorJobTests().waitForJob(store, videoID) { $0.state.phase.isFinal }
            let videoFile = try #require(stored.result?.location)
            // The damage: a stored video's file deleted, a file no record knows, a partial file of
            // a job that does not exist, and a name no Ferry writes.
            let state = harness.scratch.url.appendingPathComponent("ferry-state")
            try FileManager.default.removeItem(atPath: videoFile)
            let strayFolder = state.appendingPathComponent("downloads/999999")
            try FileManager.default.createDirectory(at: strayFolder, withIntermediateDirectories: true)
            try Data("who am I".utf8).write(to: strayFolder.appendingPathComponent("stray.bin"))
            try FileManager.default.createDirectory(
                at: state.appendingPathComponent("spool"), withIntermediateDirectories: true)
            let partial = state.appendingPathComponent("spool/job-424242-attempt-1.part")
            try Data(repeating: 7, count: 1000).write(to: partial)
            try Data("notes".utf8).write(to: state.appendingPathComponent("downloads/notes.txt"))

            let port = try #require(URLComponents(string: try harness.adminURL())?.port)
            let environment = ["FERRY_HTTP_PORT": "\(port)"]
            let check = try FerryProcess.run(["check", "--json"], in: harness.scratch.url, environment: environment)
            #expect(check.status == 0, "\(check.standardError)")
            let dry = try #require(
                try JSONSerialization.jsonObject(with: Data(check.standardOutput.utf8)) as? [String: Any])
            #expect(dry["state"] as? String == "succeeded")
            #expect(dry["dry_run"] as? Bool == true)
            let dryReport = try #require(dry["report"] as? [String: Any])
            let damaged = dryReport["damaged_records"] as? [[String: Any]] ?? []
            #expect(damaged.map { $0["job_id"] as? Int } == [Int(videoID.rawValue)])
            #expect(damaged.first?["problem"] as? String == "missing")
            #expect((dryReport["orphan_files"] as? [[String: Any]])?.first?["action"] as? String == "would_quarantine")
            #expect((dryReport["stale_partials"] as? [String])?.count == 1)
            #expect(dryReport["uninterpretable"] as? [String] == ["downloads/notes.txt"])
            #expect(dryReport["database_maintained"] as? Bool == false)
            // Nothing changed.
            #expect(FileManager.default.fileExists(atPath: partial.path))
            #expect(FileManager.default.fileExists(atPath: strayFolder.appendingPathComponent("stray.bin").path))
            #expect(try await store.job(videoID).state == .stored)

            let repair = try FerryProcess.run(["repair"], in: harness.scratch.url, environment: environment)
            #expect(repair.status == 0, "\(repair.standardError)")
            #expect(repair.standardOutput.contains("quarantined"), "\(repair.standardOutput)")
            #expect(repair.standardOutput.contains("refetch"))
            #expect(!FileManager.default.fileExists(atPath: partial.path), "the stale partial was removed")
            let quarantined = state.appendingPathComponent("quarantine/downloads/999999/stray.bin")
            #expect(try Data(contentsOf: quarantined) == Data("who am I".utf8), "the unknown file was quarantined")
            // The video was fetched again from its source, byte for byte.
            let refetched = try await SupervisorJobTests().waitForJob(store, videoID) {
                $0.state == .stored && $0.result != nil
            }
            #expect(refetched.state == .stored)
            #expect(try TestOrigin.sha256(ofFile: videoFile) == sha)
            let events = try await store.events(of: videoID).map(\.cause)
            #expect(events.suffix(3) == ["refetch", "claim", "complete"])
            // The sync health shows the last run.
            let sync = try await AdminClient(baseURL: try harness.adminURL()).get("/api/health/sync")
            let last = try #require(sync.json["last_cleanup"] as? [String: Any])
            #expect(last["dry_run"] as? Bool == false)
            #expect((last["report"] as? [String: Any])?["database_maintained"] as? Bool == true)
            #expect(harness.stop() == 0)
        }

        @Test(
            "With orphans: adopt, a file with no record becomes a finished download; retention deletes old finished records"
        )
        func adoptAndExpire() async throws {
            let harness = try SupervisorHarness(
                environment: SupervisorProcessTests.fast.merging([
                    "FERRY_CLEANUP_SETTLE_TIME": "0s", "FERRY_CLEANUP_RUN_INTERVAL": "0s",
                    "FERRY_CLEANUP_ORPHANS": "adopt", "FERRY_CLEANUP_RETAIN_FINISHED": "1s",
                ]) { $1 })
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let store = try SupervisorJobTests().writableStore(harness)
            let cancelled = try await store.enqueue(
                download: DownloadRequest(spec: DownloadSpec(url: "http://127.0.0.1:9/never"), priority: -1)
            ).job.id
            _ = try await store.cancel(cancelled, reason: "test")
            let state = harness.scratch.url.appendingPathComponent("ferry-state")
            let strayFolder = state.appendingPathComponent("downloads/777777")
            try FileManager.default.createDirectory(at: strayFolder, withIntermediateDirectories: true)
            let stray = strayFolder.appendingPathComponent("found.mp4")
            try Data("keep me".utf8).write(to: stray)
            try await Task.sleep(for: .milliseconds(1500))

            let port = try #require(URLComponents(string: try harness.adminURL())?.port)
            let environment = ["FERRY_HTTP_PORT": "\(port)"]
            let check = try FerryProcess.run(["check", "--json"], in: harness.scratch.url, environment: environment)
            let dry = try #require(
                try JSONSerialization.jsonObject(with: Data(check.standardOutput.utf8)) as? [String: Any])
            let dryReport = try #require(dry["report"] as? [String: Any])
            #expect((dryReport["orphan_files"] as? [[String: Any]])?.first?["action"] as? String == "would_adopt")
            #expect(dryReport["expired_records"] as? Int == 1)
            #expect(FileManager.default.fileExists(atPath: stray.path), "a dry run moves nothing")
            _ = try await store.job(cancelled)

            let repair = try FerryProcess.run(["repair", "--json"], in: harness.scratch.url, environment: environment)
            #expect(repair.status == 0, "\(repair.standardError)")
            let real = try #require(
                try JSONSerialization.jsonObject(with: Data(repair.standardOutput.utf8)) as? [String: Any])
            let report = try #require(real["report"] as? [String: Any])
            #expect(report["expired_records"] as? Int == 1)
            let orphan = try #require((report["orphan_files"] as? [[String: Any]])?.first)
            #expect(orphan["action"] as? String == "adopted")
            let adoptedID = try #require(orphan["job_id"] as? Int)
            await #expect(throws: StoreError.self) { try await store.job(cancelled) }
            let adopted = try await store.job(JobID(Int64(adoptedID)))
            #expect(adopted.state == .succeeded)
            let location = try #require(adopted.result?.location)
            #expect(location == state.appendingPathComponent("downloads/\(adoptedID)/found.mp4").path)
            #expect(try Data(contentsOf: URL(fileURLWithPath: location)) == Data("keep me".utf8))
            #expect(try TestOrigin.sha256(ofFile: location) == adopted.result?.sha256)
            #expect(!FileManager.default.fileExists(atPath: stray.path))
            #expect(harness.stop() == 0)
        }

        @Test(
            "The file of a delivered download whose supervisor died before removing it is removed by a run, even with orphans: adopt"
        )
        func deliveredLeftoverRemoved() async throws {
            let origin = try TestOrigin()
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-leftover-\(UUID())")
            defer { try? FileManager.default.removeItem(at: folder) }
            try FileManager.default.createDirectory(
                at: folder.appendingPathComponent("target"), withIntermediateDirectories: true)
            let config = folder.appendingPathComponent("ferry.yaml")
            try Data("targets:\n  copy:\n    type: dir\n    path: \(folder.path)/target\n".utf8).write(to: config)
            let harness = try SupervisorHarness(
                environment: SupervisorProcessTests.fast.merging([
                    "FERRY_CONFIG": config.path, "FERRY_CLEANUP_SETTLE_TIME": "0s", "FERRY_CLEANUP_RUN_INTERVAL": "0s",
                    "FERRY_CLEANUP_ORPHANS": "adopt",
                ]) { $1 })
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let store = try SupervisorJobTests().writableStore(harness)
            let spec = DownloadSpec(url: origin.url(size: 5_000), uploadTargets: ["copy"], deleteAfterUpload: true)
            let id = try await store.enqueue(download: DownloadRequest(spec: spec)).job.id
            let download = try await SupervisorJobTests().waitForJob(store, id) { $0.state.phase.isFinal }
            let local = try #require(download.result?.location)
            var uploads = try await store.uploads(of: id)
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline && uploads.first?.state != .cleaned {
                try await Task.sleep(for: .milliseconds(50))
                uploads = try await store.uploads(of: id)
            }
            #expect(uploads.map(\.state) == [.cleaned])
            // What a supervisor SIGKILLed between recording the clean-up and removing the file leaves.
            try FileManager.default.createDirectory(
                atPath: (local as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(repeating: 1, count: 5_000).write(to: URL(fileURLWithPath: local))
            let jobs = try await store.jobs(matching: JobQuery(limit: 100)).count

            let port = try #require(URLComponents(string: try harness.adminURL())?.port)
            let environment = ["FERRY_HTTP_PORT": "\(port)"]
            let check = try FerryProcess.run(["check", "--json"], in: harness.scratch.url, environment: environment)
            let dry = try #require(
                try JSONSerialization.jsonObject(with: Data(check.standardOutput.utf8)) as? [String: Any])
            let dryOrphans = (dry["report"] as? [String: Any])?["orphan_files"] as? [[String: Any]] ?? []
            #expect(dryOrphans.map { $0["action"] as? String } == ["would_remove"])
            #expect(FileManager.default.fileExists(atPath: local), "a dry run removes nothing")

            let repair = try FerryProcess.run(["repair", "--json"], in: harness.scratch.url, environment: environment)
            #expect(repair.status == 0, "\(repair.standardError)")
            let real = try #require(
                try JSONSerialization.jsonObject(with: Data(repair.standardOutput.utf8)) as? [String: Any])
            let orphans = (real["report"] as? [String: Any])?["orphan_files"] as? [[String: Any]] ?? []
            #expect(orphans.map { $0["action"] as? String } == ["removed"])
            #expect(orphans.first?["path"] as? String == local)
            #expect(!FileManager.default.fileExists(atPath: local), "the leftover was removed")
            #expect(!FileManager.default.fileExists(atPath: (local as NSString).deletingLastPathComponent))
            #expect(try await store.jobs(matching: JobQuery(limit: 100)).count == jobs, "nothing was adopted")
            #expect(harness.stop() == 0)
        }

        @Test("Asking for a cleanup while one runs returns that run; with no cleanup worker the run fails saying why")
        func oneRunAtATime() async throws {
            let harness = try SupervisorHarness(
                environment: SupervisorProcessTests.fast.merging([
                    "FERRY_CLEANUP_RUN_INTERVAL": "0s", "FERRY_WORKERS_CLEANUP_PROCESSES": "0",
                ]) { $1 })
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let client = AdminClient(baseURL: try harness.adminURL())
            let answer = try await client.post("/api/health/sync/cleanup")
            #expect(answer.status == 202)
            let run = try #require(answer.json["run"] as? [String: Any])
            #expect(run["state"] as? String == "failed")
            #expect((run["error"] as? String)?.contains("no cleanup worker") == true)
            let unknown = try await client.post("/api/health/sync/cleanup", json: #"{"dry_runn":true}"#)
            #expect(unknown.status == 400 && unknown.errorCode == "unknown_field")
            #expect(try await client.get("/api/cleanup/runs/999").status == 404)
            #expect(harness.stop() == 0)
        }

        @Test(
            "A run whose cleanup worker dies before sending its findings fails at once, saying so; the next run works")
        func workerDiesDuringTheScan() async throws {
            let harness = try SupervisorHarness(
                environment: SupervisorProcessTests.fast.merging(["FERRY_CLEANUP_RUN_INTERVAL": "0s"]) { $1 })
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let client = AdminClient(baseURL: try harness.adminURL())
            // A stopped worker takes the order but cannot answer; then it dies.
            let worker = try #require(harness.workers()[.cleanup]?.first)
            kill(worker, SIGSTOP)
            let answer = try await client.post("/api/health/sync/cleanup")
            #expect(answer.status == 202)
            let id = try #require((answer.json["run"] as? [String: Any])?["id"] as? Int)
            kill(worker, SIGKILL)
            let deadline = Date().addingTimeInterval(15)
            var run: [String: Any] = [:]
            while Date() < deadline {
                run = try await client.get("/api/cleanup/runs/\(id)").json
                if run["state"] as? String != "running" { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(run["state"] as? String == "failed", "\(run)")
            #expect((run["error"] as? String)?.contains("ended before it sent its findings") == true, "\(run)")
            // The replacement worker takes the next run.
            #expect(harness.waitForWorkers { ($0[.cleanup] ?? []).contains { $0 != worker } })
            var next: [String: Any] = [:]
            let again = Date().addingTimeInterval(20)
            while Date() < again {
                let started = try await client.post("/api/health/sync/cleanup")
                next = started.json["run"] as? [String: Any] ?? [:]
                if next["state"] as? String != "failed" { break }
                try await Task.sleep(for: .milliseconds(300))
            }
            let nextID = try #require(next["id"] as? Int)
            #expect(nextID != id)
            let finished = Date().addingTimeInterval(20)
            while Date() < finished, next["state"] as? String == "running" {
                try await Task.sleep(for: .milliseconds(200))
                next = try await client.get("/api/cleanup/runs/\(nextID)").json
            }
            #expect(next["state"] as? String == "succeeded", "\(next)")
            #expect(harness.stop() == 0)
        }
    }
}

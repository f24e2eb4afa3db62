import FerryCore
import FerryStore
import FerryTesting
import Foundation
import Testing

extension ProcessSuites {
    /// FTP and BitTorrent downloads through the real daemon: its download worker's own aria2c.
    @Suite("aria2 downloads under the supervisor", .serialized)
    struct Aria2DaemonTests {
        /// A daemon ready to work: `schemes` allowed, aria2 reconciled every 200 ms, the dir target
        /// `copy` at `<work>/target`, and `extra` (more YAML); with a store to enqueue into.
        func daemon(work: URL, schemes: String, extra: String = "") throws -> (SupervisorHarness, SQLiteJobStore) {
            let config = work.appendingPathComponent("ferry.yaml")
            try Data(
                """
                downloads:
                  allowed_schemes: \(schemes)
                aria2:
                  reconcile_interval: 200ms
                targets:
                  copy:
                    type: dir
                    path: \(work.path)/target
                \(extra)
                """.utf8
            ).write(to: config)
            let harness = try SupervisorHarness(
                environment: SupervisorProcessTests.fast.merging(["FERRY_CONFIG": config.path]) { $1 })
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            return (harness, try SupervisorJobTests().writableStore(harness))
        }

        @Test(
            "An FTP and a magnet download succeed byte-identical and are delivered, though aria2c is SIGKILLed mid-torrent"
        )
        func ftpAndMagnetSurviveAria2Kill() async throws {
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-aria2-daemon-\(UUID())")
            defer { try? FileManager.default.removeItem(at: work) }
            for folder in ["ftp", "seed", "target"] {
                try FileManager.default.createDirectory(
                    at: work.appendingPathComponent(folder), withIntermediateDirectories: true)
            }
            var generator = SystemRandomNumberGenerator()
            let clip = work.appendingPathComponent("ftp/clip.bin")
            try Data((0..<2_000_000).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(to: clip)
            let movie = work.appendingPathComponent("seed/movie.bin")
            try Data((0..<6_000_000).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(to: movie)
            let ftp = try FTPTestServer(folder: work.appendingPathComponent("ftp").path, cutAfter: 500_000)
            let swarm = try TorrentSwarm(
                content: movie.path, work: work.appendingPathComponent("seed").path, rate: 1_500_000)
            let (harness, store) = try daemon(work: work, schemes: "http,https,ftp,magnet")
            let ftpJob = try await store.enqueue(
                download: DownloadRequest(spec: DownloadSpec(url: ftp.url("clip.bin"), uploadTargets: ["copy"]))
            ).job.id
            let torrentJob = try await store.enqueue(
                download: DownloadRequest(spec: DownloadSpec(url: swarm.magnet, uploadTargets: ["copy"]))
            ).job.id
            // Kill the download worker's aria2c once the torrent is under way.
            let downloader = try #require(harness.workers()[.download]?.first)
            let moving = try await SupervisorJobTests().waitForJob(store, torrentJob) {
                $0.progress.bytesDone > 1_000_000 || $0.state.phase.isFinal
            }
            #expect(moving.state.phase.isFinal == false, "the torrent was still running when aria2c was killed")
            let aria2 = try #require(ProcessTable.children(of: downloader).first { $0.1.contains("aria2c") }?.0)
            kill(aria2, SIGKILL)
            for (id, source) in [(ftpJob, clip), (torrentJob, movie)] {
                let job = try await SupervisorJobTests().waitForJob(store, id, timeout: 90) { $0.state.phase.isFinal }
                #expect(job.state == .succeeded, "\(job.lastError?.message ?? "")")
                let result = try #require(job.result)
                let sha = try TestOrigin.sha256(ofFile: source.path)
                #expect(result.sha256 == sha)
                #expect(try TestOrigin.sha256(ofFile: result.location) == sha)
                let deadline = Date().addingTimeInterval(30)
                var uploads = try await store.uploads(of: id)
                while Date() < deadline && !(uploads.count == 1 && uploads.allSatisfy { $0.state == .succeeded }) {
                    try await Task.sleep(for: .milliseconds(50))
                    uploads = try await store.uploads(of: id)
                }
                let name = source.lastPathComponent
                #expect(try TestOrigin.sha256(ofFile: "\(work.path)/target/\(id)/\(name)") == sha)
            }
            let restarted = ProcessTable.children(of: downloader).filter { $0.1.contains("aria2c") }.map(\.0)
            #expect(restarted.count == 1 && restarted != [aria2], "the worker started a new aria2c")
            #expect(harness.stop() == 0)
            let deadline = Date().addingTimeInterval(5)
            while restarted.contains(where: ProcessTable.isAlive) && Date() < deadline { usleep(50_000) }
            #expect(!restarted.contains(where: ProcessTable.isAlive), "no aria2c outlives the daemon")
        }

        @Test("A download worker SIGKILLed mid-torrent takes its aria2c with it; the requeued job resumes and succeeds")
        func workerKilledMidTorrent() async throws {
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-aria2-worker-\(UUID())")
            defer { try? FileManager.default.removeItem(at: work) }
            try FileManager.default.createDirectory(
                at: work.appendingPathComponent("seed"), withIntermediateDirectories: true)
            var generator = SystemRandomNumberGenerator()
            let movie = work.appendingPathComponent("seed/movie.bin")
            try Data((0..<6_000_000).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(to: movie)
            let swarm = try TorrentSwarm(
                content: movie.path, work: work.appendingPathComponent("seed").path, rate: 1_500_000)
            let harness = try SupervisorHarness(
                environment: SupervisorProcessTests.fast.merging([
                    "FERRY_DOWNLOADS_ALLOWED_SCHEMES": "http,https,magnet", "FERRY_ARIA2_RECONCILE_INTERVAL": "200ms",
                ]) { $1 })
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let store = try SupervisorJobTests().writableStore(harness)
            let id = try await store.enqueue(download: DownloadRequest(spec: DownloadSpec(url: swarm.magnet))).job.id
            let moving = try await SupervisorJobTests().waitForJob(store, id) {
                $0.progress.bytesDone > 1_500_000 || $0.state.phase.isFinal
            }
            #expect(!moving.state.phase.isFinal)
            let worker = try #require(harness.workers()[.download]?.first)
            let aria2 = try #require(ProcessTable.children(of: worker).first { $0.1.contains("aria2c") }?.0)
            kill(worker, SIGKILL)
            let job = try await SupervisorJobTests().waitForJob(store, id, timeout: 90) { $0.state.phase.isFinal }
            #expect(job.state == .succeeded, "\(job.lastError?.message ?? "")")
            #expect(job.attempt >= 2, "a second attempt finished it")
            let result = try #require(job.result)
            #expect(try TestOrigin.sha256(ofFile: result.location) == (try TestOrigin.sha256(ofFile: movie.path)))
            #expect(!ProcessTable.isAlive(aria2), "the dead worker's aria2c stopped with it")
            #expect(harness.stop() == 0)
        }

        @Test(
            "A .torrent file sent through the API, and by `ferry enqueue FILE.torrent`, is kept in the state folder before its job is answered and fetched byte-identical; a malformed one, one over downloads.max_size and one naming a file outside its folder get a 400 that says so"
        )
        func uploadedTorrent() async throws {
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-aria2-upload-\(UUID())")
            defer { try? FileManager.default.removeItem(at: work) }
            try FileManager.default.createDirectory(
                at: work.appendingPathComponent("seed"), withIntermediateDirectories: true)
            var generator = SystemRandomNumberGenerator()
            let movie = work.appendingPathComponent("seed/movie.bin")
            try Data((0..<2_000_000).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(to: movie)
            let swarm = try TorrentSwarm(content: movie.path, work: work.appendingPathComponent("seed").path)
            let harness = try SupervisorHarness(
                environment: SupervisorProcessTests.fast.merging([
                    "FERRY_ARIA2_RECONCILE_INTERVAL": "200ms", "FERRY_DOWNLOADS_MAX_SIZE": "5000000",
                ]) { $1 })
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let client = AdminClient(baseURL: try harness.adminURL())
            let store = try SupervisorJobTests().writableStore(harness)
            let torrent = try Data(contentsOf: URL(fileURLWithPath: swarm.torrentFile))
            let sha = try TestOrigin.sha256(ofFile: movie.path)

            let answer = try await client.post(
                "/api/downloads", json: #"{"torrent":"\#(torrent.base64EncodedString())"}"#)
            #expect(answer.status == 201, "\(answer.body)")
            let id = JobID(rawValue: Int64(try #require(answer.json["id"] as? Int)))
            // Kept before the answer, under its SHA-256, and named as the job's url.
            let kept = harness.scratch.url.appendingPathComponent(
                "ferry-state/torrents/\(try TestOrigin.sha256(ofFile: swarm.torrentFile)).torrent")
            #expect(try Data(contentsOf: kept) == torrent)
            #expect((answer.json["input"] as? [String: Any])?["url"] as? String == kept.absoluteString)
            #expect((answer.json["input"] as? [String: Any])?["engine"] as? String == "aria2")
            let job = try await SupervisorJobTests().waitForJob(store, id, timeout: 60) { $0.state.phase.isFinal }
            #expect(job.state == .succeeded, "\(job.lastError?.message ?? "")")
            #expect(job.result?.sha256 == sha)
            #expect(try TestOrigin.sha256(ofFile: try #require(job.result?.location)) == sha)

            // The command line sends a local .torrent file the same way.
            let port = try #require(URLComponents(string: client.baseURL)?.port)
            let cli = try FerryProcess.run(
                ["enqueue", swarm.torrentFile], in: harness.scratch.url, environment: ["FERRY_HTTP_PORT": "\(port)"])
            #expect(cli.status == 0, "\(cli.standardError)")
            let second = try #require(Int64(cli.standardOutput.split(separator: " ").last?.dropLast() ?? ""))
            let again = try await SupervisorJobTests().waitForJob(store, JobID(rawValue: second), timeout: 60) {
                $0.state.phase.isFinal
            }
            #expect(again.state == .succeeded, "\(again.lastError?.message ?? "")")
            #expect(again.result?.sha256 == sha)

            // Refused with a reason: not a torrent, too large, a file name escaping its folder.
            func refusal(_ bytes: [UInt8]) async throws -> String? {
                let answer = try await client.post(
                    "/api/downloads", json: #"{"torrent":"\#(Data(bytes).base64EncodedString())"}"#)
                #expect(answer.status == 400, "\(answer.body)")
                return answer.errorCode
            }
            #expect(try await refusal(Array("d8:announce5:this is not bencoding".utf8)) == "invalid_torrent")
            #expect(try await refusal(Bencoding.torrent(name: "big.bin", length: 6_000_000)) == "too_large")
            #expect(
                try await refusal(Bencoding.torrent(name: "pack", files: [(["..", "escaped.bin"], 1000)]))
                    == "unsafe_path")
            let notBase64 = try await client.post("/api/downloads", json: #"{"torrent":"%%%"}"#)
            #expect(notBase64.errorCode == "invalid_torrent")
            let both = try await client.post(
                "/api/downloads", json: #"{"url":"http://127.0.0.1:9/a","torrent":"ZA=="}"#)
            #expect(both.errorCode == "invalid_url")
            #expect(harness.stop() == 0)
        }

        @Test(
            "A torrent of several files is delivered to a dir target as its folder, every file; cleanup takes the folder as one record (no refetch, no orphan, no stray name) and finds a file taken from it; with delete_after_upload the whole folder goes once delivered"
        )
        func folderResultDeliveredAndChecked() async throws {
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-aria2-folder-\(UUID())")
            defer { try? FileManager.default.removeItem(at: work) }
            var generator = SystemRandomNumberGenerator()
            var shas: [String: String] = [:]
            for (name, size) in [("one.bin", 400_000), ("sub/two.bin", 300_000)] {
                let file = work.appendingPathComponent("seed/album/\(name)")
                try FileManager.default.createDirectory(
                    at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data((0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(to: file)
                shas[name] = try TestOrigin.sha256(ofFile: file.path)
            }
            try FileManager.default.createDirectory(
                at: work.appendingPathComponent("target"), withIntermediateDirectories: true)
            let swarm = try TorrentSwarm(
                content: work.appendingPathComponent("seed/album").path, work: work.appendingPathComponent("seed").path)
            let (harness, store) = try daemon(
                work: work, schemes: "http,https,magnet", extra: "cleanup:\n  settle_time: 0s\n  run_interval: 0s\n")
            let id = try await store.enqueue(
                download: DownloadRequest(spec: DownloadSpec(url: swarm.magnet, uploadTargets: ["copy"]))
            ).job.id
            let job = try await SupervisorJobTests().waitForJob(store, id, timeout: 60) { $0.state.phase.isFinal }
            #expect(job.state == .succeeded, "\(job.lastError?.message ?? "")")
            var uploads = try await store.uploads(of: id)
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline && !(uploads.count == 1 && uploads.allSatisfy { $0.state.phase.isFinal }) {
                try await Task.sleep(for: .milliseconds(50))
                uploads = try await store.uploads(of: id)
            }
            #expect(uploads.map(\.state) == [.succeeded], "\(uploads.map { $0.lastError?.message ?? "" })")
            #expect(uploads.first?.result?.location == "\(work.path)/target/\(id)/album")
            for (name, sha) in shas {
                #expect(try TestOrigin.sha256(ofFile: "\(work.path)/target/\(id)/album/\(name)") == sha)
            }
            #expect(uploads.first?.result?.sha256 == job.result?.sha256)

            let port = try #require(URLComponents(string: try harness.adminURL())?.port)
            let environment = ["FERRY_HTTP_PORT": "\(port)"]
            func report() throws -> [String: Any] {
                let check = try FerryProcess.run(
                    ["check", "--json"], in: harness.scratch.url, environment: environment)
                #expect(check.status == 0, "\(check.standardError)")
                let run = try JSONSerialization.jsonObject(with: Data(check.standardOutput.utf8)) as? [String: Any]
                return try #require(run?["report"] as? [String: Any])
            }
            let clean = try report()
            #expect((clean["damaged_records"] as? [Any])?.isEmpty ?? true, "\(clean)")
            #expect((clean["orphan_files"] as? [Any])?.isEmpty ?? true, "\(clean)")
            #expect((clean["uninterpretable"] as? [Any])?.isEmpty ?? true, "\(clean)")
            let location = try #require(job.result?.location)
            try FileManager.default.removeItem(atPath: location + "/sub/two.bin")
            let damaged = try report()["damaged_records"] as? [[String: Any]] ?? []
            #expect(damaged.map { $0["job_id"] as? Int } == [Int(id.rawValue)])
            #expect(damaged.first?["problem"] as? String == "wrong_size")

            // Delivered with delete_after_upload: the whole folder goes once the upload has it.
            let again = try await store.enqueue(
                download: DownloadRequest(
                    spec: DownloadSpec(url: swarm.magnet, uploadTargets: ["copy"], deleteAfterUpload: true))
            ).job.id
            let second = try await SupervisorJobTests().waitForJob(store, again, timeout: 60) {
                $0.state.phase.isFinal
            }
            #expect(second.state == .succeeded, "\(second.lastError?.message ?? "")")
            let folder = try #require(second.result?.location)
            let gone = Date().addingTimeInterval(30)
            while Date() < gone && FileManager.default.fileExists(atPath: folder) {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(!FileManager.default.fileExists(atPath: folder), "the delivered folder was removed")
            for (name, sha) in shas {
                #expect(try TestOrigin.sha256(ofFile: "\(work.path)/target/\(again)/album/\(name)") == sha)
            }
            #expect(harness.stop() == 0)
        }

        @Test(
            "Mixed torrent, FTP and HTTP downloads (one torrent twice) all succeed byte-identical while aria2c is SIGKILLed every two seconds and the download worker once"
        )
        func mixedDownloadsUnderKills() async throws {
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-aria2-mixed-\(UUID())")
            defer { try? FileManager.default.removeItem(at: work) }
            var generator = SystemRandomNumberGenerator()
            func file(_ path: String, size: Int) throws -> URL {
                let url = work.appendingPathComponent(path)
                try FileManager.default.createDirectory(
                    at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data((0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(to: url)
                return url
            }
            var swarms: [TorrentSwarm] = []
            var expected: [(url: String, sha: String)] = []
            for index in 0..<3 {
                let movie = try file("seed-\(index)/movie-\(index).bin", size: 3_000_000)
                let swarm = try TorrentSwarm(
                    content: movie.path, work: movie.deletingLastPathComponent().path, rate: 1_500_000)
                swarms.append(swarm)
                expected.append((swarm.magnet, try TestOrigin.sha256(ofFile: movie.path)))
            }
            expected.append(expected[0])
            var clips: [String] = []
            for index in 0..<3 { clips.append(try file("ftp/clip-\(index).bin", size: 3_000_000).path) }
            let ftp = try FTPTestServer(folder: work.appendingPathComponent("ftp").path, rate: 1_000_000)
            for (index, clip) in clips.enumerated() {
                expected.append((ftp.url("clip-\(index).bin"), try TestOrigin.sha256(ofFile: clip)))
            }
            let origin = try TestOrigin()
            for index in 0..<3 {
                let size = 2_000_000 + index
                expected.append((origin.url(size: size, rate: 1_000_000), try TestOrigin.sha256(size: size)))
            }
            let harness = try SupervisorHarness(
                environment: SupervisorProcessTests.fast.merging([
                    "FERRY_DOWNLOADS_ALLOWED_SCHEMES": "http,https,ftp,magnet",
                    "FERRY_ARIA2_RECONCILE_INTERVAL": "200ms",
                    "FERRY_WORKERS_DOWNLOAD_CONCURRENCY": "16",
                ]) { $1 })
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let store = try SupervisorJobTests().writableStore(harness)
            var ids: [JobID] = []
            for item in expected {
                ids.append(try await store.enqueue(download: DownloadRequest(spec: DownloadSpec(url: item.url))).job.id)
            }
            var kills = 0
            // The supervisor's notifications are read all along: a full notify socket would block it.
            func drain(_ seconds: Double) { harness.waitForNotification(containing: "\u{0}", timeout: seconds) }
            for round in 0..<6 {
                drain(2)
                guard let worker = harness.workers()[.download]?.first else { continue }
                if round == 3 {
                    kill(worker, SIGKILL)
                } else if let aria2 = ProcessTable.children(of: worker).first(where: { $0.1.contains("aria2c") })?.0 {
                    kill(aria2, SIGKILL)
                    kills += 1
                }
            }
            #expect(kills >= 3, "aria2c was killed mid-run")
            let deadline = Date().addingTimeInterval(180)
            while Date() < deadline {
                var final = 0
                for id in ids where try await store.job(id).state.phase.isFinal { final += 1 }
                if final == ids.count { break }
                drain(0.5)
            }
            for (id, item) in zip(ids, expected) {
                let job = try await store.job(id)
                #expect(job.state == .succeeded, "\(item.url): \(job.lastError?.message ?? "")")
                let location = try #require(job.result?.location)
                #expect(try TestOrigin.sha256(ofFile: location) == item.sha, "\(item.url)")
            }
            #expect(harness.stop() == 0)
            withExtendedLifetime((swarms, ftp, origin)) {}
        }
    }
}

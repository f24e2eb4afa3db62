import FerryCore
import FerryStore
import FerryTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension ProcessSuites {
    /// Telegram as a source, through the real supervisor, its telegram and download workers and
    /// the fake Bot API on loopback.
    @Suite("Telegram bots as a source of downloads", .serialized)
    struct TelegramTests {
        /// A daemon polling one bot of `api`, whose chat 42 may send work.
        static func start(
            _ api: FakeBotAPI, localFolder: String? = nil, botSettings: String = "", more: String = "",
            environment: [String: String] = [:], token: String? = nil
        ) throws -> SupervisorHarness {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-telegram-\(UUID())")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let tokenFile = folder.appendingPathComponent("token").path
            try Data("\(token ?? api.token)\n".utf8).write(to: URL(fileURLWithPath: tokenFile))
            let config = folder.appendingPathComponent("ferry.yaml")
            try Data(
                """
                telegram:
                  bots:
                    relay:
                      token_file: \(tokenFile)
                      base_url: \(api.baseURL)
                      allowed_chats: [42]
                \(localFolder.map { "      local_files_folder: \($0)" } ?? "")
                \(botSettings)
                \(more)
                """.utf8
            ).write(to: config)
            return try SupervisorHarness(
                environment: SupervisorProcessTests.fast.merging(["FERRY_CONFIG": config.path]) { $1 }
                    .merging(environment) { $1 })
        }

        /// A daemon whose bot sends every file it gets on to chat `chat` (the target `chat`).
        static func startRelaying(
            _ api: FakeBotAPI, toChat chat: Int, environment: [String: String]
        ) throws -> SupervisorHarness {
            try start(
                api, botSettings: "      upload_targets: [chat]",
                more: "targets:\n  chat:\n    type: telegram\n    bot: relay\n    chat_id: \(chat)\n",
                environment: environment)
        }

        static func document(
            _ file: FakeBotAPI.File, name: String, chat: Int = 42, size: Int? = nil
        ) -> [String: any Sendable] {
            var document: [String: any Sendable] = [
                "file_id": file.fileID, "file_unique_id": file.fileUniqueID, "file_name": name,
                "mime_type": "video/mp4",
            ]
            if let size { document["file_size"] = size }
            let from: [String: any Sendable] = ["id": chat, "type": "private"]
            return ["chat": from, "document": document]
        }

        /// The downloads in the store once `count` of them are final (or the timeout passed).
        static func downloads(
            _ store: SQLiteJobStore, finalCount count: Int, timeout: Double = 60
        ) async throws
            -> [Job]
        {
            let deadline = Date().addingTimeInterval(timeout)
            var jobs = try await store.jobs(matching: JobQuery(kind: .download, oldestFirst: true, limit: 10_000))
            while jobs.filter(\.state.phase.isFinal).count < count && Date() < deadline {
                try await Task.sleep(for: .milliseconds(100))
                jobs = try await store.jobs(matching: JobQuery(kind: .download, oldestFirst: true, limit: 10_000))
            }
            return jobs
        }

        static func waitForConfirmedOffset(_ api: FakeBotAPI, _ offset: Int, timeout: Double = 30) async throws -> Int {
            let deadline = Date().addingTimeInterval(timeout)
            var state = try await api.state()
            while state.confirmedOffset < offset && Date() < deadline {
                try await Task.sleep(for: .milliseconds(100))
                state = try await api.state()
            }
            return state.confirmedOffset
        }

        @Test(
            "A document, a photo and links sent to the bot become one succeeded download each with the right bytes; other chats and a repeated file are not fetched; the token is in no record, answer or log"
        )
        func mediaAndLinksBecomeDownloads() async throws {
            let api = try FakeBotAPI()
            let origin = try TestOrigin()
            let harness = try Self.start(api)
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let store = try harness.store()
            let video = try await api.addFile(size: 300_000, seed: 7)
            let photoSmall = try await api.addFile(size: 1_000, seed: 1)
            let photoLarge = try await api.addFile(size: 40_000, seed: 2)
            try await api.receive(Self.document(video, name: "clip.mp4", size: 300_000))
            let chat: [String: any Sendable] = ["id": 42]
            let sizes: [[String: any Sendable]] = [
                ["file_id": photoSmall.fileID, "file_unique_id": photoSmall.fileUniqueID, "width": 90, "height": 60],
                ["file_id": photoLarge.fileID, "file_unique_id": photoLarge.fileUniqueID, "width": 900, "height": 600],
            ]
            try await api.receive(["chat": chat, "caption": "holiday", "photo": sizes])
            try await api.receive([
                "chat": chat, "text": "two: \(origin.url(size: 5_000)) and \(origin.url(size: 6_000))",
            ])
            try await api.receive(Self.document(video, name: "stranger.mp4", chat: 99, size: 300_000))
            let jobs = try await Self.downloads(store, finalCount: 4)
            #expect(jobs.count == 4)
            #expect(jobs.allSatisfy { $0.state == .succeeded }, "\(jobs.map { $0.lastError?.message ?? "" })")
            let results = jobs.compactMap(\.result)
            #expect(
                results.map(\.sha256) == [
                    try TestOrigin.sha256(size: 300_000, seed: 7), try TestOrigin.sha256(size: 40_000, seed: 2),
                    try TestOrigin.sha256(size: 5_000), try TestOrigin.sha256(size: 6_000),
                ])
            #expect(results.first?.location.hasSuffix("/clip.mp4") == true)
            let sources = try await store.telegramSources(of: jobs.map(\.id))
            #expect(jobs.map { sources[$0.id]?.chatID } == [42, 42, 42, 42])
            #expect(jobs.map { sources[$0.id]?.item.kind } == [.document, .photo, .link, .link])
            #expect(try await Self.waitForConfirmedOffset(api, 5) == 5, "every update acknowledged after recording")

            // The same file again from the same chat: recorded, acknowledged, not fetched again.
            try await api.receive(Self.document(video, name: "again.mp4", size: 300_000))
            #expect(try await Self.waitForConfirmedOffset(api, 6) == 6)
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await store.jobs(matching: JobQuery(kind: .download, limit: 100)).count == 4)

            // The token: not in the database, not in the API's answers, not in the logs.
            let admin = try harness.adminURL()
            var answers = Data()
            for path in ["/api/downloads", "/api/downloads/\(jobs[0].id)", "/api/workers", "/api/telegram/bots"] {
                answers += try await URLSession.shared.data(from: URL(string: admin + path)!).0
            }
            let bots = try #require(
                try JSONSerialization.jsonObject(
                    with: try await URLSession.shared.data(from: URL(string: admin + "/api/telegram/bots")!).0)
                    as? [String: Any])
            let bot = try #require((bots["bots"] as? [[String: Any]])?.first)
            #expect(bot["name"] as? String == "relay" && bot["connected"] as? Bool == true)
            #expect(bot["offset"] as? Int == 6 && bot["updates"] as? Int == 5)
            #expect(bot["ignored"] as? Int == 1 && bot["duplicates"] as? Int == 1 && bot["backlog"] as? Int == 0)
            #expect(harness.stop() == 0)
            let token = Data(api.token.utf8)
            let state = harness.scratch.url.appendingPathComponent("ferry-state")
            for name in ["ferry.sqlite", "ferry.sqlite-wal"] {
                let bytes = (try? Data(contentsOf: state.appendingPathComponent(name))) ?? Data()
                #expect(bytes.range(of: token) == nil, "the token is in \(name)")
            }
            #expect(answers.range(of: token) == nil, "the token is in an API answer")
            for name in ["serve.out", "serve.err"] {
                let bytes = try Data(contentsOf: harness.scratch.url.appendingPathComponent(name))
                #expect(bytes.range(of: token) == nil, "the token is in \(name)")
            }
        }

        @Test(
            "SIGKILLed telegram and download workers, a SIGKILLed supervisor, 429s, 5xx and cut connections neither lose nor repeat an update"
        )
        func killsLoseAndRepeatNothing() async throws {
            let api = try FakeBotAPI()
            let origin = try TestOrigin()
            let harness = try Self.start(api, environment: ["FERRY_RETRY_DOWNLOAD_INITIAL_DELAY": "100ms"])
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            try await api.fault("getUpdates", count: 2, status: 429, retryAfter: 1)
            try await api.fault("getUpdates", count: 2, cut: true)
            try await api.fault("getFile", count: 3, status: 502)
            try await api.fault("getFile", count: 2, cut: true)
            try await api.fault("getFile", count: 1, status: 429, retryAfter: 1)
            let count = 40
            // Every fifth message is a link; the others carry a file each.
            var expected: [Int: String] = [:]
            var messages: [[String: any Sendable]] = []
            for index in 0..<count {
                let size = 2_000 + index
                if index % 5 == 4 {
                    let chat: [String: any Sendable] = ["id": 42]
                    messages.append(["chat": chat, "text": "get \(origin.url(size: size))"])
                    expected[index + 1] = try TestOrigin.sha256(size: size)
                } else {
                    let file = try await api.addFile(size: size, seed: index)
                    messages.append(Self.document(file, name: "part-\(index).bin", size: size))
                    expected[index + 1] = try TestOrigin.sha256(size: size, seed: index)
                }
            }
            var restarted: FerryProcess.Running?
            defer { if let restarted { kill(restarted.process.processIdentifier, SIGKILL) } }
            var kills: [WorkerRole: Int] = [:]
            let secondLogs = harness.scratch.url.appendingPathComponent("second")
            try FileManager.default.createDirectory(at: secondLogs, withIntermediateDirectories: true)
            for (index, message) in messages.enumerated() {
                try await api.receive(message)
                try await Task.sleep(for: .milliseconds(40))
                let workers = harness.workers(of: restarted?.process.processIdentifier)
                for role in [WorkerRole.telegram, .download] where index % 4 == (role == .telegram ? 1 : 3) {
                    guard let victim = workers[role]?.first else { continue }
                    kill(victim, SIGKILL)
                    kills[role, default: 0] += 1
                }
                if index == count / 2 {
                    // The supervisor dies with everything; a new one starts on the same state.
                    kill(harness.pid, SIGKILL)
                    harness.serve.process.waitUntilExit()
                    restarted = try FerryProcess.start(
                        ["serve"], in: harness.scratch.url,
                        environment: harness.serve.process.environment ?? [:], logDirectory: secondLogs)
                }
            }
            #expect(kills[.telegram, default: 0] >= 5, "telegram workers were killed mid-stream")
            #expect(kills[.download, default: 0] >= 5, "download workers were killed mid-stream")
            let store = try harness.store()
            let jobs = try await Self.downloads(store, finalCount: count, timeout: 120)
            #expect(jobs.count == count, "one download per update, no more, no fewer")
            #expect(jobs.allSatisfy { $0.state == .succeeded }, "\(jobs.map { $0.lastError?.message ?? "" })")
            let sources = try await store.telegramSources(of: jobs.map(\.id))
            #expect(Set(jobs.compactMap { sources[$0.id]?.updateID }) == Set((1...count).map(Int64.init)))
            for job in jobs {
                let update = Int(try #require(sources[job.id]?.updateID))
                #expect(job.result?.sha256 == expected[update], "update \(update)")
            }
            #expect(try await Self.waitForConfirmedOffset(api, count + 1) == count + 1)
            let calls = try await api.state().calls
            // Every planned fault was met: four failed polls besides the good ones, six failed getFile calls
            // besides one good call per file.
            #expect(calls["getUpdates", default: 0] >= 5)
            #expect(calls["getFile", default: 0] >= count - count / 5 + 6)
            if let restarted {
                kill(restarted.process.processIdentifier, SIGTERM)
                restarted.process.waitUntilExit()
            }
        }

        @Test(
            "Above 20 MB the public Bot API's file fails for good saying to run a local Bot API server; a local server's file is copied from its folder"
        )
        func bigFiles() async throws {
            let api = try FakeBotAPI()
            let harness = try Self.start(api)
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let store = try harness.store()
            let big = try await api.addFile(size: 21 << 20)
            // Known from the message, and (without a size in it) from getFile's refusal.
            try await api.receive(Self.document(big, name: "big.mkv", size: 21 << 20))
            try await api.receive(Self.document(big, name: "big.mkv", size: nil).merging(["caption": "/force"]) { $1 })
            let jobs = try await Self.downloads(store, finalCount: 2)
            #expect(jobs.map(\.state) == [.failed, .failed])
            for job in jobs {
                #expect(job.lastError?.code == "telegram_file_too_big")
                #expect(job.lastError?.isRetryable == false)
                #expect(job.lastError?.message.contains("local Bot API server") == true)
                #expect(job.lastError?.message.contains("local_files_folder") == true)
                #expect(job.attempt == 1, "a permanent failure is not retried")
            }
            #expect(harness.stop() == 0)

            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-botapi-local-\(UUID())")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let local = try FakeBotAPI(localFolder: folder.path)
            let localHarness = try Self.start(local, localFolder: folder.path)
            try #require(localHarness.waitForNotification(containing: "READY=1") != nil)
            let localStore = try localHarness.store()
            let size = 21 << 20
            let file = try await local.addFile(size: size, seed: 5)
            try await local.receive(Self.document(file, name: "big.mkv", size: size))
            let fetched = try await Self.downloads(localStore, finalCount: 1)
            #expect(fetched.map(\.state) == [.succeeded], "\(fetched.map { $0.lastError?.message ?? "" })")
            #expect(fetched.first?.result?.size == Int64(size))
            #expect(fetched.first?.result?.sha256 == (try TestOrigin.sha256(size: size, seed: 5)))
            #expect(localHarness.stop() == 0)
        }

        @Test(
            "A file sent to a bot and delivered to a telegram target arrives in the chat once, byte for byte, through a 429 and a 500; a lost answer is sent again and counted in /metrics"
        )
        func uploadToTelegramTarget() async throws {
            let api = try FakeBotAPI()
            let harness = try Self.start(
                api, botSettings: "      upload_targets: [channel]",
                more: """
                    targets:
                      channel:
                        type: telegram
                        bot: relay
                        chat_id: -100777
                        as: video
                        caption: "{file_name}, {size} bytes"
                    """, environment: ["FERRY_RETRY_UPLOAD_INITIAL_DELAY": "100ms"])
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let store = try harness.store()
            try await api.fault("sendVideo", status: 429, retryAfter: 1)
            try await api.fault("sendVideo", status: 500)
            let file = try await api.addFile(size: 120_000, seed: 9)
            try await api.receive(Self.document(file, name: "clip.mp4", size: 120_000))
            let download = try #require(try await Self.downloads(store, finalCount: 1).first)
            #expect(download.state == .succeeded, "\(download.lastError?.message ?? "")")
            let upload = try await Self.upload(of: download.id, in: store)
            #expect(upload?.state == .succeeded, "\(upload?.lastError?.message ?? "")")
            #expect(upload?.result?.location.contains("chat=-100777&message=") == true)
            var sent = try await api.state().sent
            #expect(sent.count == 1, "the file arrived once")
            #expect(sent.first?.method == "sendVideo" && sent.first?.chatID == "-100777")
            #expect(sent.first?.sha256 == (try TestOrigin.sha256(size: 120_000, seed: 9)))
            #expect(sent.first?.caption == "clip.mp4, 120000 bytes")
            #expect(
                try await api.state().calls["sendVideo"] == 3, "429 waited out in the attempt, 500 retried, then sent")

            // Telegram takes the file but the answer is lost: the ambiguity the Bot API leaves.
            try await api.fault("sendVideo", cutAfter: true)
            let second = try await api.addFile(size: 90_000, seed: 3)
            try await api.receive(Self.document(second, name: "two.mp4", size: 90_000))
            let downloads = try await Self.downloads(store, finalCount: 2)
            let secondUpload = try await Self.upload(of: try #require(downloads.last?.id), in: store)
            #expect(secondUpload?.state == .succeeded, "\(secondUpload?.lastError?.message ?? "")")
            sent = try await api.state().sent
            #expect(sent.filter { $0.fileName == "two.mp4" }.count == 2, "sent again after the lost answer")
            let metrics = try await URLSession.shared.data(from: URL(string: try harness.adminURL() + "/metrics")!).0
            #expect(String(decoding: metrics, as: UTF8.self).contains("ferry_telegram_resends_total 1"))

            // Over the public Bot API's 50 MB a send fails for good, before anything is sent.
            let origin = try TestOrigin()
            let writable = try SupervisorJobTests().writableStore(harness)
            let big = try await writable.enqueue(
                download: DownloadRequest(
                    spec: DownloadSpec(url: origin.url(size: 51 << 20), uploadTargets: ["channel"]))
            ).job.id
            let bigUpload = try await Self.upload(of: big, in: store, timeout: 60)
            #expect(bigUpload?.state == .failed)
            #expect(bigUpload?.lastError?.code == "telegram_file_too_big")
            #expect(bigUpload?.lastError?.message.contains("at most 50 MB") == true)
            #expect(try await api.state().sent.count == 3, "nothing more was sent")
            #expect(harness.stop() == 0)
        }

        @Test(
            "An upload waiting out flood control longer than the stall timeout is not taken for stalled, and the API shows it waiting: one attempt, sent once"
        )
        func floodWaitIsNotAStall() async throws {
            let api = try FakeBotAPI()
            let harness = try Self.startRelaying(api, toChat: 78, environment: ["FERRY_SUPERVISOR_STALL_TIMEOUT": "4s"])
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let store = try harness.store()
            // Three times the stall timeout without a byte moved, waiting for the chat's turn.
            try await api.fault("sendDocument", status: 429, retryAfter: 12)
            let file = try await api.addFile(size: 40_000, seed: 4)
            try await api.receive(Self.document(file, name: "slow.bin", size: 40_000))
            let download = try #require(try await Self.downloads(store, finalCount: 1).first)
            // While it waits, the API says so: the job, and its worker.
            let admin = AdminClient(baseURL: try harness.adminURL())
            var seen: (job: [String: Any], worker: [Int])?
            let deadline = Date().addingTimeInterval(30)
            while seen == nil && Date() < deadline {
                try await Task.sleep(for: .milliseconds(200))
                guard let running = try await store.uploads(of: download.id).first, running.state == .running else {
                    continue
                }
                let job = try await admin.get("/api/jobs/\(running.id.rawValue)").json
                guard job["waiting_for_turn_seconds"] is Double else { continue }
                let workers = try await admin.get("/api/workers").json["workers"] as? [[String: Any]] ?? []
                seen = (job, workers.flatMap { $0["waiting_jobs"] as? [Int] ?? [] })
            }
            let waiting = try #require(seen, "the API showed the upload waiting for its turn")
            #expect(waiting.worker == [waiting.job["id"] as? Int ?? -1])
            // And /metrics (refreshed each second while work runs), within the wait's 12 s.
            var gauge = ""
            while !gauge.contains("ferry_jobs_waiting_for_turn{role=\"upload\"} 1") && Date() < deadline {
                gauge = try await admin.get("/metrics").body
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(gauge.contains("ferry_jobs_waiting_for_turn{role=\"upload\"} 1"))
            let upload = try await Self.upload(of: download.id, in: store, timeout: 60)
            #expect(upload?.state == .succeeded, "\(upload?.lastError?.message ?? "")")
            let after = try await admin.get("/api/jobs/\(try #require(upload?.id).rawValue)").json
            #expect(after["state"] as? String == "succeeded" && after["waiting_for_turn_seconds"] == nil, "\(after)")
            let events = try await store.events(of: try #require(upload?.id))
            #expect(events.map(\.cause) == ["create", "claim", "complete"], "\(events.map { ($0.cause, $0.reason) })")
            #expect(upload?.lastError == nil, "\(upload?.lastError?.message ?? "")")
            #expect(try await api.state().calls["sendDocument"] == 2, "the 429, then the send after its wait")
            #expect(try await api.state().sent.count == 1)
            let markers = harness.scratch.url.appendingPathComponent("ferry-state/telegram/sending").path
            #expect((try? FileManager.default.contentsOfDirectory(atPath: markers)) ?? [] == [], "no marker left")
            #expect(harness.stop() == 0)
        }

        @Test(
            "A backlog to one chat under flood control holds one upload slot, not all: another target's uploads go through meanwhile, and the chat gets its files in order"
        )
        func backlogHoldsOneSlot() async throws {
            let api = try FakeBotAPI()
            let harness = try Self.start(
                api, botSettings: "      upload_targets: [chat, shelf]",
                more: """
                    targets:
                      chat:
                        type: telegram
                        bot: relay
                        chat_id: 79
                      shelf:
                        type: dir
                        path: \(try Self.shelf())
                    workers:
                      upload:
                        concurrency: 2
                    """)
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let store = try harness.store()
            try await api.fault("sendDocument", status: 429, retryAfter: 12)
            for index in 0..<3 {
                let file = try await api.addFile(size: 20_000 + index, seed: 10 + index)
                try await api.receive(Self.document(file, name: "part\(index).bin", size: 20_000 + index))
            }
            let downloads = try await Self.downloads(store, finalCount: 3)
            // Two slots, three uploads waiting for the chat's turn: the shelf's go through anyway,
            // well inside the 12 s hold, and no more than one chat upload runs at any moment.
            let deadline = Date().addingTimeInterval(10)
            var shelved = 0
            var mostRunning = 0
            while shelved < 3 && Date() < deadline {
                let uploads = try await store.jobs(matching: JobQuery(kind: .upload, limit: 100))
                var running = 0
                shelved = 0
                for upload in uploads {
                    guard case .upload(let spec) = try await store.payload(of: upload.id) else { continue }
                    if spec.target == "shelf" && upload.state == .succeeded { shelved += 1 }
                    if spec.target == "chat" && upload.state == .running { running += 1 }
                }
                mostRunning = max(mostRunning, running)
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(shelved == 3, "the folder target's uploads waited behind the chat's backlog")
            // The API names a chat upload's lane, and only a chat upload's.
            let admin = AdminClient(baseURL: try harness.adminURL())
            var lanes: [String?] = []
            for upload in try await store.jobs(matching: JobQuery(kind: .upload, limit: 100)) {
                lanes.append(try await admin.get("/api/jobs/\(upload.id.rawValue)").json["lane"] as? String)
            }
            #expect(lanes.filter { $0 == "chat" }.count == 3 && lanes.filter { $0 == nil }.count == 3, "\(lanes)")
            #expect(mostRunning <= 1, "\(mostRunning) uploads to one chat ran at once")
            #expect(try await api.state().sent.isEmpty, "still inside the flood-control hold")
            // After the hold, every file reaches the chat once, in the order it was sent to the bot.
            var uploads = try await store.jobs(matching: JobQuery(kind: .upload, limit: 100))
            let end = Date().addingTimeInterval(90)
            while !uploads.allSatisfy(\.state.phase.isFinal) && Date() < end {
                try await Task.sleep(for: .milliseconds(200))
                uploads = try await store.jobs(matching: JobQuery(kind: .upload, limit: 100))
            }
            #expect(uploads.count == 6 && uploads.allSatisfy { $0.state == .succeeded }, "\(uploads.map(\.state))")
            // Each chat upload is claimed as soon as the one before it ended (the supervisor does not
            // rest the kind while a lane waits: nothing else announces that the lane is free).
            var ended: Date?
            for upload in uploads.sorted(by: { $0.id < $1.id }) {
                guard case .upload(let spec) = try await store.payload(of: upload.id), spec.target == "chat" else {
                    continue
                }
                let events = try await store.events(of: upload.id)
                if let ended, let claimed = events.first(where: { $0.cause == "claim" })?.at {
                    #expect(claimed.timeIntervalSince(ended) < 5, "upload \(upload.id) waited for its lane's turn")
                }
                ended = events.last?.at
            }
            let sent = try await api.state().sent
            let hashes = downloads.compactMap { $0.result?.sha256 }
            #expect(hashes.count == 3 && sent.map(\.sha256) == hashes)
            #expect(harness.stop() == 0)
        }

        /// A fresh folder for a `dir` target.
        static func shelf() throws -> String {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-shelf-\(UUID())")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            return folder.path
        }

        @Test(
            "An upload worker killed while Telegram takes its file: the next attempt says the send may have arrived and counts the resend in /metrics, the one after sends again"
        )
        func killedWhileSending() async throws {
            let api = try FakeBotAPI()
            let harness = try Self.startRelaying(
                api, toChat: 77, environment: ["FERRY_RETRY_UPLOAD_INITIAL_DELAY": "100ms"])
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let store = try harness.store()
            try await api.fault("sendDocument", stallAfter: 30)
            let file = try await api.addFile(size: 50_000, seed: 6)
            try await api.receive(Self.document(file, name: "clip.mp4", size: 50_000))
            // Telegram has the file; its answer is not out yet when the worker dies.
            var deadline = Date().addingTimeInterval(30)
            while try await api.state().sent.isEmpty && Date() < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            let worker = try #require(harness.workers()[.upload]?.first)
            kill(worker, SIGKILL)
            let download = try #require(try await Self.downloads(store, finalCount: 1).first)
            var upload = try await Self.upload(of: download.id, in: store)
            deadline = Date().addingTimeInterval(30)
            while upload?.state != .succeeded && Date() < deadline {
                try await Task.sleep(for: .milliseconds(100))
                upload = try await Self.upload(of: download.id, in: store)
            }
            #expect(upload?.state == .succeeded, "\(upload?.lastError?.message ?? "")")
            let reasons = try await store.events(of: try #require(upload?.id)).compactMap(\.reason)
            #expect(reasons.contains { $0.contains("telegram_answer_lost") }, "\(reasons)")
            let sent = try await api.state().sent
            #expect(sent.count == 2, "sent again: the Bot API cannot say whether it has the file")
            #expect(sent.allSatisfy { $0.sha256 == download.result?.sha256 })
            let metrics = try await URLSession.shared.data(from: URL(string: try harness.adminURL() + "/metrics")!).0
            #expect(String(decoding: metrics, as: UTF8.self).contains("ferry_telegram_resends_total 1"))
            let markers = harness.scratch.url.appendingPathComponent("ferry-state/telegram/sending").path
            #expect((try? FileManager.default.contentsOfDirectory(atPath: markers)) ?? [] == [], "no marker left")
            #expect(harness.stop() == 0)
        }

        /// A 3-second 640×360 MPEG-4 video made by ffmpeg.
        static func makeVideo() throws -> Data {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-video-\(UUID()).mp4")
            defer { try? FileManager.default.removeItem(at: file) }
            let ffmpeg = Process()
            ffmpeg.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            ffmpeg.arguments = [
                "ffmpeg", "-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc=duration=3:size=640x360:rate=10",
                "-c:v", "mpeg4", "-q:v", "8", "-pix_fmt", "yuv420p", file.path,
            ]
            try ffmpeg.run()
            ffmpeg.waitUntilExit()
            return try Data(contentsOf: file)
        }

        @Test(
            "A video sent as: video carries its duration, width, height and a JPEG thumbnail; without ffprobe and ffmpeg on PATH it goes without them and start-up says so once"
        )
        func videoMetadata() async throws {
            let video = try Self.makeVideo()
            let target = """
                targets:
                  clips:
                    type: telegram
                    bot: relay
                    chat_id: 77
                    as: video
                """
            for withTools in [true, false] {
                let api = try FakeBotAPI()
                let emptyPath = FileManager.default.temporaryDirectory.appendingPathComponent(
                    "ferry-no-tools-\(UUID())")
                try FileManager.default.createDirectory(at: emptyPath, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: emptyPath) }
                let harness = try Self.start(
                    api, botSettings: "      upload_targets: [clips]", more: target,
                    environment: withTools ? [:] : ["PATH": emptyPath.path])
                try #require(harness.waitForNotification(containing: "READY=1") != nil)
                let store = try harness.store()
                let file = try await api.addFile(video)
                try await api.receive(Self.document(file, name: "clip.mp4", size: video.count))
                let download = try #require(try await Self.downloads(store, finalCount: 1).first)
                let upload = try await Self.upload(of: download.id, in: store)
                #expect(upload?.state == .succeeded, "\(upload?.lastError?.message ?? "")")
                let sent = try #require(try await api.state().sent.first)
                #expect(sent.method == "sendVideo")
                #expect(sent.parts?["video"]?.sha256 == download.result?.sha256, "the video itself, byte for byte")
                let warning = "ffprobe and ffmpeg are not on PATH"
                let log = try String(
                    contentsOf: harness.scratch.url.appendingPathComponent("serve.err"), encoding: .utf8)
                if withTools {
                    #expect(sent.fields?["duration"] == "3")
                    #expect(sent.fields?["width"] == "640" && sent.fields?["height"] == "360")
                    #expect(sent.fields?["supports_streaming"] == "true")
                    #expect(sent.fields?["thumbnail"] == "attach://thumbnail")
                    let thumbnail = try #require(sent.parts?["thumbnail"])
                    #expect(thumbnail.contentType == "image/jpeg")
                    #expect(thumbnail.size > 1_000 && thumbnail.size <= 200_000, "\(thumbnail.size) bytes")
                    #expect(!log.contains(warning))
                } else {
                    #expect(sent.fields?["duration"] == nil && sent.fields?["thumbnail"] == nil)
                    #expect(sent.parts?.keys.sorted() == ["video"])
                    #expect(log.components(separatedBy: warning).count == 2, "said once")
                    #expect(log.contains("targets=clips"))
                }
                #expect(harness.stop() == 0)
            }
        }

        /// The download's one upload once it is final.
        static func upload(of download: JobID, in store: SQLiteJobStore, timeout: Double = 30) async throws -> Job? {
            let deadline = Date().addingTimeInterval(timeout)
            var uploads = try await store.uploads(of: download)
            while !(uploads.first?.state.phase.isFinal ?? false) && Date() < deadline {
                try await Task.sleep(for: .milliseconds(100))
                uploads = try await store.uploads(of: download)
            }
            return uploads.first
        }

        @Test(
            "Two telegram worker processes: one polls the bot (no getUpdates conflict), and when it is killed the other takes over"
        )
        func oneOfTwoTelegramWorkersPolls() async throws {
            let api = try FakeBotAPI()
            let harness = try Self.start(api, environment: ["FERRY_WORKERS_TELEGRAM_PROCESSES": "2"])
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            #expect(harness.workers()[.telegram]?.count == 2)
            let store = try harness.store()
            let first = try await api.addFile(size: 2_000, seed: 1)
            try await api.receive(Self.document(first, name: "one.bin", size: 2_000))
            #expect(try await Self.downloads(store, finalCount: 1).first?.state == .succeeded)
            #expect(try await api.state().conflicts == 0, "both telegram workers polled the bot")

            // Both are killed in turn: whichever polled, the one left (or its replacement) polls on.
            for pid in harness.workers()[.telegram] ?? [] {
                kill(pid, SIGKILL)
                let file = try await api.addFile(size: 2_000, seed: Int(pid))
                try await api.receive(Self.document(file, name: "after-\(pid).bin", size: 2_000))
            }
            let jobs = try await Self.downloads(store, finalCount: 3, timeout: 90)
            #expect(jobs.count == 3 && jobs.allSatisfy { $0.state == .succeeded }, "\(jobs.map(\.state))")
            #expect(harness.stop() == 0)
        }

        @Test("A bot that cannot reach its Bot API makes health warn, naming the bot and the reason")
        func unreachableBotWarns() async throws {
            let api = try FakeBotAPI()
            let harness = try Self.start(api, token: "999:not-the-token")
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let admin = try harness.adminURL()
            let deadline = Date().addingTimeInterval(20)
            var output: String?
            while output == nil && Date() < deadline {
                let data = try await URLSession.shared.data(from: URL(string: admin + "/api/health/system")!).0
                let document = try JSONSerialization.jsonObject(with: data) as? [String: Any]
                let checks = (document?["checks"] as? [String: Any])?["telegram:bot"] as? [[String: Any]]
                output = checks?.first { $0["status"] as? String == "warn" }?["output"] as? String
                if output == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(
                output?.contains("bot relay cannot reach Telegram: Unauthorized") == true, "\(output ?? "no warning")")
            let bots = try await URLSession.shared.data(from: URL(string: admin + "/api/telegram/bots")!).0
            #expect(String(decoding: bots, as: UTF8.self).contains(#""connected":false"#))
            #expect(harness.stop() == 0)
        }

        @Test(
            "With replies on, the bot answers each message with queued, then edits it in place to done with the size, or to the error"
        )
        func repliesInChat() async throws {
            let api = try FakeBotAPI()
            let harness = try Self.start(api, botSettings: "      replies: true")
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let store = try harness.store()
            let file = try await api.addFile(size: 300_000, seed: 4)
            try await api.receive(Self.document(file, name: "clip.mp4", size: 300_000))
            let big = try await api.addFile(size: 21 << 20)
            try await api.receive(Self.document(big, name: "big.mkv", size: 21 << 20))
            let jobs = try await Self.downloads(store, finalCount: 2)
            #expect(jobs.map(\.state) == [.succeeded, .failed])
            let deadline = Date().addingTimeInterval(20)
            var texts: [FakeBotAPI.Sent] = []
            while Date() < deadline {
                texts = try await api.state().sent.filter { $0.method == "sendMessage" }
                if texts.count == 2 && texts.allSatisfy({ ($0.edits ?? 0) >= 1 }) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let done = try #require(texts.first { $0.text?.contains("clip.mp4") == true })
            #expect(done.text == "done: clip.mp4, 0.3 MB")
            #expect(done.chatID == "42" && done.replyTo != nil && (done.edits ?? 0) >= 1, "one reply, edited in place")
            let failed = try #require(texts.first { $0.text?.contains("big.mkv") == true })
            #expect(failed.text?.hasPrefix("failed: big.mkv: The file is 21.0 MB") == true, "\(failed.text ?? "")")
            #expect(texts.count == 2, "one reply per download, no flood")
            #expect(harness.stop() == 0)
        }

        @Test("A Telegram file whose transfer is cut mid-way is resumed by the next attempt with a Range request")
        func cutTransferResumes() async throws {
            let api = try FakeBotAPI()
            let harness = try Self.start(api, environment: ["FERRY_RETRY_DOWNLOAD_INITIAL_DELAY": "100ms"])
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            try await api.fault("file", cutAfterBytes: 400_000)
            let file = try await api.addFile(size: 1_000_000, seed: 8)
            try await api.receive(Self.document(file, name: "long.mp4", size: 1_000_000))
            let job = try #require(try await Self.downloads(try harness.store(), finalCount: 1).first)
            #expect(job.state == .succeeded, "\(job.lastError?.message ?? "")")
            #expect(job.attempt == 2)
            #expect(job.result?.sha256 == (try TestOrigin.sha256(size: 1_000_000, seed: 8)))
            let requests = try await api.state().fileRequests
            #expect(requests.map(\.status) == [200, 206], "the second attempt asked only for the rest")
            #expect(requests.last?.range?.hasPrefix("bytes=") == true && requests.last?.range != "bytes=0-")
            #expect(harness.stop() == 0)
        }
    }
}

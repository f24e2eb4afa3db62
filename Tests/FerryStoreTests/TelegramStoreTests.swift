import FerryCore
import FerryStore
import Foundation
import GRDB
import Testing

/// Recording Telegram updates: the downloads and the offset in one transaction, exactly once.
@Suite("Telegram updates in the store")
struct TelegramStoreTests {
    static var bot: TelegramBot {
        var bot = TelegramBot(name: "relay", tokenFile: "/etc/ferry/token")
        bot.allowedChats = [42]
        bot.uploadTargets = ["drive"]
        return bot
    }

    static func document(
        _ update: Int64, chat: Int64 = 42, unique: String = "u1", forced: Bool = false
    )
        -> TelegramUpdate
    {
        TelegramUpdate(
            updateID: update, chatID: chat, messageID: update * 10,
            items: [
                TelegramItem(
                    kind: .document, fileID: "file-\(update)", fileUniqueID: unique, fileName: "a/b.mp4",
                    mimeType: "video/mp4", fileSize: 1_000)
            ], forced: forced)
    }

    @Test(
        "A batch becomes its downloads and the bot's offset; the same batch again creates nothing and answers the same offset"
    )
    func batchRecordedOnce() async throws {
        let fixture = try StoreFixture()
        let batch = TelegramBatch(
            bot: "relay",
            updates: [
                Self.document(5),
                TelegramUpdate(updateID: 6, chatID: 99, messageID: 1, items: [.link("https://e.test/x")]),
                TelegramUpdate(
                    updateID: 7, chatID: 42, messageID: 70,
                    items: [.link("https://e.test/a.mp4"), .link("https://e.test/b.mp4")]),
                TelegramUpdate(updateID: 8),
            ])
        let first = try await fixture.store.recordTelegramUpdates(batch, bot: Self.bot)
        #expect(first.offset == 9)
        #expect(first.created.count == 3)
        #expect(first.ignored == 1)
        let payloads = try await fixture.store.payloads(of: first.created, kind: .download)
        let specs = first.created.compactMap { payloads[$0] }.compactMap { payload -> DownloadSpec? in
            if case .download(let spec) = payload { return spec }
            return nil
        }
        #expect(specs.map(\.url) == ["telegram://relay/file-5", "https://e.test/a.mp4", "https://e.test/b.mp4"])
        #expect(specs.first?.fileName == "a_b.mp4", "a sender's name cannot leave the job's folder")
        #expect(specs.first?.expectedSize == 1_000)
        #expect(specs.allSatisfy { $0.uploadTargets == ["drive"] })
        let sources = try await fixture.store.telegramSources(of: first.created)
        #expect(sources[first.created[0]]?.messageID == 50)
        #expect(sources[first.created[2]]?.item.url == nil, "a link's record is its download")

        let again = try await fixture.store.recordTelegramUpdates(batch, bot: Self.bot)
        #expect(again.offset == 9)
        #expect(again.created.isEmpty)
        #expect(again.alreadyRecorded == 4)
        #expect(try await fixture.store.jobs(matching: JobQuery(kind: .download, limit: 100)).count == 3)
    }

    @Test("The same media from the same chat is one download, unless forced; from another chat it is its own")
    func sameMediaOnce() async throws {
        let fixture = try StoreFixture()
        var bot = Self.bot
        bot.allowedChats = [42, 43]
        let record = { (updates: [TelegramUpdate]) in
            try await fixture.store.recordTelegramUpdates(TelegramBatch(bot: "relay", updates: updates), bot: bot)
        }
        #expect(try await record([Self.document(1), Self.document(2)]).created.count == 1)
        let repeated = try await record([Self.document(3)])
        #expect(repeated.created.isEmpty && repeated.duplicates == 1)
        #expect(try await record([Self.document(4, forced: true)]).created.count == 1)
        #expect(try await record([Self.document(5, chat: 43)]).created.count == 1)
        #expect(try await record([Self.document(6, unique: "u2")]).created.count == 1)
    }

    @Test("The offset never moves back, and a telegram worker can be recorded after migrating an older database")
    func schemaGuards() async throws {
        let fixture = try StoreFixture(migrate: false)
        try fixture.store.migrate(upTo: "v6-adopt")
        try await fixture.execute(
            "INSERT INTO workers (id, role, slot, started_at) VALUES ('download-1.a', 'download', 1, 1)")
        _ = try fixture.store.migrate()
        try await fixture.worker("telegram-1.a", role: .telegram)
        #expect(try await fixture.store.workers(includeExited: true, limit: 10).count == 2)
        await fixture.expectRefused(
            "INSERT INTO workers (id, role, slot, started_at) VALUES ('x', 'ftp', 1, 1)", mentioning: "FOREIGN KEY")
        _ = try await fixture.store.recordTelegramUpdates(
            TelegramBatch(bot: "relay", updates: [Self.document(9)]), bot: Self.bot)
        await fixture.expectRefused(
            "UPDATE telegram_bots SET next_offset = 3 WHERE name = 'relay'", mentioning: "never moves back")
        #expect(try await fixture.store.checkIntegrity().isEmpty)
    }

    @Test("A token of another Telegram bot under the same name starts its own count of updates")
    func anotherBotBehindTheName() async throws {
        let fixture = try StoreFixture()
        let first = TelegramBatch(bot: "relay", botUserID: 111, updates: [Self.document(40, unique: "a")])
        #expect(try await fixture.store.recordTelegramUpdates(first, bot: Self.bot).offset == 41)
        let other = TelegramBatch(bot: "relay", botUserID: 222, updates: [Self.document(3, unique: "b")])
        let intake = try await fixture.store.recordTelegramUpdates(other, bot: Self.bot)
        #expect(intake.created.count == 1, "update 3 of the other bot is new, though below 41")
        #expect(intake.offset == 4)
        let again = try await fixture.store.recordTelegramUpdates(other, bot: Self.bot)
        #expect(again.created.isEmpty && again.offset == 4)
    }

    @Test("A database from v7-telegram keeps its bots' offsets and its Telegram downloads through v8")
    func migrateFromV7() async throws {
        let fixture = try StoreFixture(migrate: false)
        try fixture.store.migrate(upTo: "v7-telegram")
        try await fixture.execute(
            """
            INSERT INTO jobs (id, kind, state, max_attempts, created_at, updated_at, due_at, state_cause)
            VALUES (7, 'download', 'queued', 3, 1, 1, 1, 'create');
            INSERT INTO downloads (job_id, url) VALUES (7, 'telegram://relay/f1');
            INSERT INTO telegram_bots (name, next_offset) VALUES ('relay', 10);
            INSERT INTO telegram_sources (job_id, bot, update_id, item, chat_id, message_id, media_kind, file_id,
                file_unique_id) VALUES (7, 'relay', 9, 0, 42, 90, 'document', 'f1', 'u1');
            """)
        #expect(try fixture.store.migrate().first == "v8-telegram-bot-id")
        #expect(try await fixture.store.telegramSources(of: [JobID(7)])[JobID(7)]?.updateID == 9)
        let repeated = TelegramBatch(bot: "relay", updates: [Self.document(9, unique: "u1")])
        #expect(try await fixture.store.recordTelegramUpdates(repeated, bot: Self.bot).alreadyRecorded == 1)
        let sameMedia = TelegramBatch(bot: "relay", updates: [Self.document(10, unique: "u1")])
        #expect(try await fixture.store.recordTelegramUpdates(sameMedia, bot: Self.bot).duplicates == 1)
        #expect(try await fixture.store.checkIntegrity().isEmpty)
    }
}

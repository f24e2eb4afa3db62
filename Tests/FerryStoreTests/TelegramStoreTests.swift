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
}

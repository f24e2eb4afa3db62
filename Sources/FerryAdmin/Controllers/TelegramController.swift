import FerryCore
import FerrySupervisor
import Foundation
import Hummingbird

/// `GET /api/telegram/bots`: every configured bot, whether its worker reaches the Bot API, how
/// far it has read and what it still has to fetch. Never the token.
struct TelegramController {
    let dependencies: AdminDependencies

    func register(in routes: RouteRegistry) {
        routes.get("/api/telegram/bots") { _, _ in
            let records: [TelegramBotRecord]
            do {
                records = try await dependencies.store.telegramBotRecords()
            } catch let error as StoreError {
                throw APIError.from(error)
            }
            let statuses = await dependencies.supervisor.telegramStatus()
            let pollers = await dependencies.supervisor.telegramPollers()
            let bots = await dependencies.supervisor.configuration.telegramBots.map { bot in
                var listed = Bot(bot, status: statuses[bot.name], record: records.first { $0.name == bot.name })
                listed.polledBy = pollers[bot.name]
                return listed
            }
            return try JSONResponse.make(Bots(bots: bots))
        }
    }

    struct Bots: Encodable {
        var bots: [Bot]
    }

    struct Bot: Encodable {
        var name: String
        var baseUrl: String
        var localServer: Bool
        var allowedChats: [Int64]
        var uploadTargets: [String]
        /// On a shared queue, the node that polls it (node id); its `connected` is that node's to tell.
        var polledBy: String?
        /// Nil until its worker has polled once (on a shared queue: on this node).
        var connected: Bool?
        var problem: String?
        var checkedAt: Date?
        var offset: Int64
        var updates: Int
        var ignored: Int
        var duplicates: Int
        var lastUpdateAt: Date?
        var backlog: Int

        init(_ bot: TelegramBot, status: TelegramBotStatus?, record: TelegramBotRecord?) {
            name = bot.name
            baseUrl = bot.baseURL
            localServer = bot.usesLocalServer
            allowedChats = bot.allowedChats
            uploadTargets = bot.uploadTargets
            connected = status?.reachable
            problem = status?.problem
            checkedAt = status?.at
            offset = record?.offset ?? 0
            updates = record?.updates ?? 0
            ignored = record?.ignored ?? 0
            duplicates = record?.duplicates ?? 0
            lastUpdateAt = record?.lastUpdateAt
            backlog = record?.backlog ?? 0
        }
    }
}

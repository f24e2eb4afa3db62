import FerryCore
import FerryPostgres
import Foundation

/// Telegram's flood control kept in the database (on a shared queue), so that every node's sends
/// to a chat are spaced together, on the database's clock. The connection is opened on the first
/// send and again after a failure; while the database cannot be used, the caller paces with its
/// state folder's file instead.
actor SharedTelegramTurns {
    private let access: PostgresAccess
    private var store: PostgresJobStore?

    init(access: PostgresAccess) {
        self.access = access
    }

    /// Takes the bot's turn to send to the chat if it is due (nil); otherwise how long to wait.
    func take(bot: String, chat: Int64) async throws(StoreError) -> Duration? {
        try await withStore { store throws(StoreError) in
            try await store.takeTelegramTurn(
                bot: bot, chat: chat,
                chatSpacing: .milliseconds(chat < 0 ? TelegramSendTurns.groupSpacing : TelegramSendTurns.chatSpacing),
                botSpacing: .milliseconds(TelegramSendTurns.botSpacing),
                furthest: .milliseconds(TelegramSendTurns.furthestTurn))
        }
    }

    /// Holds the bot's chat for `wait` for every node.
    func hold(bot: String, chat: Int64, for wait: Duration) async throws(StoreError) {
        try await withStore { store throws(StoreError) in
            try await store.holdTelegramChat(
                bot: bot, chat: chat, for: wait, furthest: .milliseconds(TelegramSendTurns.furthestTurn))
        }
    }

    private func withStore<T: Sendable>(
        _ body: (PostgresJobStore) async throws(StoreError) -> T
    ) async throws(StoreError) -> T {
        let store: PostgresJobStore
        if let open = self.store {
            store = open
        } else {
            var configuration = try PostgresStoreConfiguration(access: access)
            // A send waits for its turn: a database that does not answer soon is not used for it.
            configuration.connectTimeout = .seconds(5)
            configuration.callTimeout = .seconds(5)
            store = try await PostgresJobStore.open(configuration)
            self.store = store
        }
        do {
            return try await body(store)
        } catch {
            // Opened afresh on the next send.
            store.close()
            self.store = nil
            throw error
        }
    }

    func close() {
        store?.close()
        store = nil
    }
}

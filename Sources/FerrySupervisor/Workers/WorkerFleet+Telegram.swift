public import FerryCore
import Foundation
import Logging

/// The telegram worker: which bots it polls, what it last said about them, and the replies it posts.
extension WorkerFleet {
    public func telegramStatus() -> [String: TelegramBotStatus] { telegramStatuses }

    var replies: TelegramReplies { TelegramReplies(store: store, bots: settings.work.telegramBots) }

    /// The configured bots this node polls: all of them, unless the supervisor narrowed them
    /// (``pollTelegram(only:)``, on a shared queue).
    var polledBots: [String] {
        let configured = settings.work.telegramBots.map(\.name)
        guard let telegramPolled else { return configured }
        return configured.filter(telegramPolled.contains)
    }

    /// On a shared queue: from now on this node polls only `bots`; other nodes poll the rest.
    public func pollTelegram(only bots: Set<String>) {
        guard bots != telegramPolled else { return }
        telegramPolled = bots
        // The reachability of a bot polled elsewhere is that node's to tell.
        for bot in telegramStatuses.keys where !bots.contains(bot) { telegramStatuses[bot] = nil }
        tellTelegramWorkers()
    }

    /// Tells the telegram workers which bots to poll: the one chosen polls them all and any other
    /// none (Telegram ends a second `getUpdates` of the same bot with 409 Conflict). The choice
    /// stays with a worker while it is ready; after a hello, an exit or a change of bots, the
    /// first ready worker is chosen when it has gone.
    func tellTelegramWorkers() {
        guard let roleSlots = slots[.telegram] else { return }
        let ready = roleSlots.indices.filter { index in
            if case .ready = roleSlots[index].phase, roleSlots[index].id != nil, !roleSlots[index].exiting {
                return true
            }
            return false
        }
        let chosen = ready.first { roleSlots[$0].id == telegramPoller } ?? ready.first
        telegramPoller = chosen.flatMap { roleSlots[$0].id }
        for index in ready {
            let bots = index == chosen ? polledBots : []
            slots[.telegram]![index].inputs?.yield(.message(.telegramPoll(TelegramPolling(bots: bots))))
        }
    }

    /// Hands a reply to a ready telegram worker; replies are a courtesy, so none ready drops it.
    func sendToTelegramWorker(_ message: SupervisorMessage) {
        guard
            let index = slots[.telegram]?.firstIndex(where: { slot in
                if case .ready = slot.phase, slot.id != nil, !slot.isLeaving, !slot.exiting { return true }
                return false
            })
        else { return logger.notice("no telegram worker to post a reply; dropped") }
        slots[.telegram]![index].inputs?.yield(.message(message))
    }
}

/// What a batch of updates becomes, decided without I/O: which updates are new (at or after the
/// bot's recorded offset), which chats may send work, and one download request per item. The
/// store applies the plan in one transaction together with the new offset.
public struct TelegramIntakePlan: Hashable, Sendable {
    /// A download one item of one message asks for.
    public struct Planned: Hashable, Sendable {
        public var updateID: Int64
        public var chatID: Int64
        public var messageID: Int64
        /// The item's position in its message (a message may carry several links).
        public var itemIndex: Int
        public var item: TelegramItem
        public var forced: Bool
        public var request: DownloadRequest
    }

    /// The offset to record and acknowledge: one past the newest update seen.
    public var offset: Int64
    public var downloads: [Planned]
    /// New updates that carried nothing to fetch (no media, no link, not a message).
    public var empty: Int
    /// New updates from chats that are not allowed to send work.
    public var ignored: Int
    /// Updates at or below the recorded offset: recorded before, skipped now.
    public var alreadyRecorded: Int

    public init(_ batch: TelegramBatch, bot: TelegramBot, recordedOffset: Int64) {
        offset = recordedOffset
        downloads = []
        empty = 0
        ignored = 0
        alreadyRecorded = 0
        for update in batch.updates.sorted(by: { $0.updateID < $1.updateID }) {
            guard update.updateID >= offset else {
                alreadyRecorded += 1
                continue
            }
            offset = update.updateID + 1
            guard let chat = update.chatID, let message = update.messageID, !update.items.isEmpty else {
                empty += 1
                continue
            }
            guard bot.allowedChats.contains(chat) else {
                ignored += 1
                continue
            }
            for (index, item) in update.items.enumerated() {
                downloads.append(
                    Planned(
                        updateID: update.updateID, chatID: chat, messageID: message, itemIndex: index, item: item,
                        forced: update.forced,
                        request: Self.request(
                            for: item, bot: bot, key: "telegram:\(bot.name):\(update.updateID):\(index)")
                    ))
            }
        }
    }

    /// The download of one item: a Telegram file by reference (never by its token-bearing URL),
    /// or the link itself.
    static func request(for item: TelegramItem, bot: TelegramBot, key: String) -> DownloadRequest {
        var spec = DownloadSpec(
            url: item.url ?? "", uploadTargets: bot.uploadTargets, deleteAfterUpload: bot.deleteAfterUpload)
        if item.kind != .link, let fileID = item.fileID {
            spec.url = TelegramFileReference(bot: bot.name, fileID: fileID).url
            spec.expectedSize = item.fileSize
            spec.fileName = fileName(for: item)
        }
        return DownloadRequest(spec: spec, idempotencyKey: key)
    }

    /// The name the file is kept under: the sender's, made safe for a folder, or one made up for
    /// photos (which have none); nil lets the worker take it from Telegram's file path.
    static func fileName(for item: TelegramItem) -> String? {
        if let name = item.fileName {
            let replaced = String(name.unicodeScalars.map { $0 == "/" || $0.value < 0x20 ? "_" : Character($0) })
            let safe = String(replaced.prefix(200))
            if !safe.isEmpty, safe != ".", safe != "..", !safe.hasPrefix(".") { return safe }
        }
        if item.kind == .photo, let unique = item.fileUniqueID { return "photo-\(unique).jpg" }
        return nil
    }
}

import FerryCore

/// Turns a Bot API update into the work it carries: documents, videos, audio, animations, the
/// largest size of a photo, and every http(s) link of a text message.
enum TelegramMessageParser {
    static func parse(_ update: BotAPI.Update) -> TelegramUpdate {
        guard let message = update.message ?? update.channelPost else {
            return TelegramUpdate(updateID: update.updateId)
        }
        var items: [TelegramItem] = []
        let media: [(TelegramItem.Kind, BotAPI.FileObject?)] = [
            (.document, message.document), (.video, message.video), (.audio, message.audio),
            (.animation, message.animation),
            (.photo, message.photo?.max { area($0) < area($1) }),
        ]
        // An animation also arrives as a document; keep one of them.
        for (kind, file) in media {
            guard let file, !items.contains(where: { $0.fileUniqueID == file.fileUniqueId }) else { continue }
            items.append(
                TelegramItem(
                    kind: kind, fileID: file.fileId, fileUniqueID: file.fileUniqueId, fileName: file.fileName,
                    mimeType: file.mimeType, fileSize: file.fileSize))
        }
        if items.isEmpty, let text = message.text {
            items = links(in: text, entities: message.entities ?? []).map(TelegramItem.link)
        }
        let command = (message.caption ?? message.text ?? "").split(separator: " ").first
        return TelegramUpdate(
            updateID: update.updateId, chatID: message.chat.id, messageID: message.messageId, items: items,
            forced: command == "/force")
    }

    /// The http(s) links of a text, in order and each once: the words that are links, and the
    /// targets of links hidden behind other text.
    static func links(in text: String, entities: [BotAPI.Entity]) -> [String] {
        var links: [String] = []
        let words = text.split(whereSeparator: { $0.isWhitespace || $0 == "<" || $0 == ">" }).map(String.init)
        for candidate in words + entities.compactMap(\.url) {
            let lower = candidate.lowercased()
            guard lower.hasPrefix("http://") || lower.hasPrefix("https://"), candidate.count > 8,
                !links.contains(candidate)
            else { continue }
            links.append(candidate)
        }
        return links
    }

    private static func area(_ file: BotAPI.FileObject) -> Int64 {
        Int64(file.width ?? 0) * Int64(file.height ?? 0) * 1_000_000_000 + (file.fileSize ?? 0)
    }
}

import FerryCore
import Foundation
import Yams

/// The fields of one bot (`telegram.bots.<name>`) and how they are checked.
enum TelegramBotFields {
    static let required = ["token_file", "allowed_chats"]
    static let optional = ["base_url", "upload_targets", "delete_after_upload", "local_files_folder", "replies"]

    /// A field's value: text, or a list written either as a YAML list or comma-separated.
    static func values(of node: Node) -> [String]? {
        if let scalar = node.scalar {
            return scalar.string.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                !$0.isEmpty
            }
        }
        guard case .sequence(let sequence) = node else { return nil }
        let items = sequence.compactMap { $0.scalar?.string }
        return items.count == sequence.count ? items : nil
    }

    /// Builds the bot from its fields, or says what is wrong with each (field, value, expectation).
    static func build(name: String, fields: [String: Node]) -> Result<TelegramBot, TargetFields.Problems> {
        var problems: [TargetFields.Problem] = []
        for field in fields.keys.sorted() where !(required + optional).contains(field) {
            problems.append(
                .init(
                    field: field, value: nil,
                    expected: "unknown key; a bot has \((required + optional).joined(separator: ", "))"))
        }
        for field in required where fields[field] == nil {
            problems.append(.init(field: field, value: nil, expected: "is missing"))
        }
        guard problems.isEmpty else { return .failure(.init(list: problems)) }
        func text(_ field: String) -> String? { fields[field]?.scalar?.string }
        var bot = TelegramBot(name: name, tokenFile: text("token_file") ?? "")
        if !TargetFields.isAbsolutePath(bot.tokenFile) {
            problems.append(
                .init(
                    field: "token_file", value: bot.tokenFile,
                    expected: "expected the absolute path of a file holding the bot token (never the token itself)"))
        }
        let chats = values(of: fields["allowed_chats"]!) ?? []
        let parsed = chats.compactMap(Int64.init)
        if chats.isEmpty || parsed.count != chats.count {
            problems.append(
                .init(
                    field: "allowed_chats", value: chats.joined(separator: ", "),
                    expected:
                        "expected the numeric ids of the chats that may send work, e.g. [123456789, -1001234567890]"))
        }
        bot.allowedChats = parsed
        if let url = text("base_url") {
            let components = URLComponents(string: url)
            if !["http", "https"].contains(components?.scheme ?? "") || components?.host?.isEmpty != false {
                problems.append(
                    .init(
                        field: "base_url", value: url,
                        expected: "expected the Bot API's http or https URL, e.g. https://api.telegram.org"))
            }
            bot.baseURL = url.hasSuffix("/") ? String(url.dropLast()) : url
        }
        if let node = fields["upload_targets"] {
            let names = values(of: node) ?? []
            if names.contains(where: { !UploadTarget.isValidName($0) }) || Set(names).count != names.count {
                problems.append(
                    .init(
                        field: "upload_targets", value: names.joined(separator: ", "),
                        expected: "expected a list of distinct target names"))
            }
            bot.uploadTargets = names
        }
        if let flag = text("delete_after_upload") {
            guard let value = ["true": true, "false": false][flag] else {
                problems.append(.init(field: "delete_after_upload", value: flag, expected: "expected true or false"))
                return .failure(.init(list: problems))
            }
            bot.deleteAfterUpload = value
        }
        if let flag = text("replies") {
            guard let value = ["true": true, "false": false][flag] else {
                problems.append(.init(field: "replies", value: flag, expected: "expected true or false"))
                return .failure(.init(list: problems))
            }
            bot.replies = value
        }
        if let folder = text("local_files_folder") {
            // Empty: the public Bot API (as the documented file writes the default).
            if !folder.isEmpty && !TargetFields.isAbsolutePath(folder) {
                problems.append(
                    .init(
                        field: "local_files_folder", value: folder,
                        expected: "expected the absolute working folder of a local Bot API server run with --local"))
            }
            bot.localFilesFolder = folder.hasSuffix("/") ? String(folder.dropLast()) : folder
        }
        guard problems.isEmpty else { return .failure(.init(list: problems)) }
        return .success(bot)
    }

    /// A `type: telegram` upload target from its text fields.
    static func target(name: String, values: [String: String]) -> Result<UploadTarget, TargetFields.Problems> {
        var problems: [TargetFields.Problem] = []
        let chat = values["chat_id"]!
        var telegram = UploadTarget.Telegram(bot: values["bot"]!, chatID: Int64(chat) ?? 0)
        if Int64(chat) == nil {
            problems.append(.init(field: "chat_id", value: chat, expected: "expected the chat's numeric id"))
        }
        if let text = values["as"] {
            if let sendAs = UploadTarget.Telegram.SendAs(rawValue: text) {
                telegram.sendAs = sendAs
            } else {
                let choices = UploadTarget.Telegram.SendAs.allCases.map(\.rawValue).joined(separator: ", ")
                problems.append(.init(field: "as", value: text, expected: "expected one of \(choices)"))
            }
        }
        if let caption = values["caption"] {
            telegram.caption = caption
            if caption.count > 1024 {
                problems.append(.init(field: "caption", value: nil, expected: "expected at most 1024 characters"))
            }
        }
        guard problems.isEmpty else { return .failure(.init(list: problems)) }
        return .success(UploadTarget(name: name, kind: .telegram, telegram: telegram))
    }

    /// The bot's fields as the documented file writes them.
    static func render(_ bot: TelegramBot) -> [String] {
        [
            "    \(bot.name):", "      token_file: \"\(bot.tokenFile)\"", "      base_url: \"\(bot.baseURL)\"",
            "      allowed_chats: [\(bot.allowedChats.map(String.init).joined(separator: ", "))]",
            "      upload_targets: [\(bot.uploadTargets.joined(separator: ", "))]",
            "      delete_after_upload: \(bot.deleteAfterUpload)",
            "      local_files_folder: \"\(bot.localFilesFolder)\"", "      replies: \(bot.replies)",
        ]
    }
}

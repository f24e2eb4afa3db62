import FerryConfig
import FerryCore
import Foundation
import Testing

/// Telegram bots: names of the user's choosing under `telegram.bots`, each checked like any setting.
@Suite("Telegram bots in the configuration")
struct ConfigTelegramTests {
    static let bot = "telegram:\n  bots:\n    relay:\n      token_file: /etc/ferry/token\n"

    @Test("A bot is read with its settings, starts the telegram role, and is shown back by the documented file")
    func readsBots() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let path = try fixture.write(
            "targets:\n  backup:\n    type: dir\n    path: /mnt/backup\n" + Self.bot
                + "      allowed_chats: [42, -1001234]\n      upload_targets: backup\n"
                + "      delete_after_upload: true\n      base_url: http://127.0.0.1:8081/\n"
                + "      local_files_folder: /var/lib/telegram-bot-api/\n      replies: true\n")
        let loaded = try fixture.loader().load(file: path).configuration
        var bot = TelegramBot(name: "relay", tokenFile: "/etc/ferry/token")
        bot.allowedChats = [42, -1_001_234]
        bot.uploadTargets = ["backup"]
        bot.deleteAfterUpload = true
        bot.baseURL = "http://127.0.0.1:8081"
        bot.localFilesFolder = "/var/lib/telegram-bot-api"
        bot.replies = true
        #expect(loaded.telegramBots == [bot])
        #expect(loaded.workerSettings.telegramBots == [bot])
        #expect(loaded.pool(of: .telegram).processes == 1)
        #expect(FerryConfiguration().pool(of: .telegram).processes == 0, "no bot, no telegram worker")
        let again = try fixture.write(ConfigDocument.render(loaded), name: "again.yaml")
        #expect(try fixture.loader().load(file: again).configuration.telegramBots == [bot])
    }

    @Test("A telegram target is read with its bot, chat, kind of send and caption, and shown back")
    func readsTelegramTarget() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let path = try fixture.write(
            Self.bot + "      allowed_chats: [1]\n"
                + "targets:\n  channel:\n    type: telegram\n    bot: relay\n    chat_id: -1001234567890\n"
                + "    as: audio\n    caption: \"{file_name} \\\"new\\\"\"\n")
        let loaded = try fixture.loader().load(file: path).configuration
        var telegram = UploadTarget.Telegram(bot: "relay", chatID: -1_001_234_567_890)
        telegram.sendAs = .audio
        telegram.caption = "{file_name} \"new\""
        #expect(loaded.targets == [UploadTarget(name: "channel", kind: .telegram, telegram: telegram)])
        let again = try fixture.write(ConfigDocument.render(loaded), name: "again.yaml")
        #expect(try fixture.loader().load(file: again).configuration.targets == loaded.targets)
    }

    @Test(
        "Every mistake in a bot is named with its key and what was expected",
        arguments: [
            (Self.bot, "telegram.bots.relay.allowed_chats", "is missing"),
            (Self.bot + "      allowed_chats: [me]\n", "telegram.bots.relay.allowed_chats", "numeric ids"),
            (
                "telegram:\n  bots:\n    relay:\n      token_file: token.txt\n      allowed_chats: [1]\n",
                "telegram.bots.relay.token_file", "absolute path"
            ),
            (
                Self.bot + "      allowed_chats: [1]\n      base_url: ftp://x\n", "telegram.bots.relay.base_url",
                "http or https URL"
            ),
            (
                Self.bot + "      allowed_chats: [1]\n      upload_targets: [nowhere]\n",
                "telegram.bots.relay.upload_targets", "names no configured target"
            ),
            (Self.bot + "      allowed_chats: [1]\n      token: abc\n", "telegram.bots.relay.token", "unknown key"),
            ("telegram:\n  robots: {}\n", "telegram.robots", "unknown key; expected bots"),
            (
                "targets:\n  t:\n    type: telegram\n    bot: nobody\n    chat_id: 1\n", "targets.t.bot",
                "names no configured bot"
            ),
            (
                Self.bot
                    + "      allowed_chats: [1]\ntargets:\n  t:\n    type: telegram\n    bot: relay\n    chat_id: x\n",
                "targets.t.chat_id", "numeric id"
            ),
            (
                Self.bot
                    + "      allowed_chats: [1]\ntargets:\n  t:\n    type: telegram\n    bot: relay\n    chat_id: 1\n    as: gif\n",
                "targets.t.as", "expected one of document, video, audio"
            ),
        ])
    func refusesMistakes(text: String, key: String, problem: String) throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let issue = try fixture.issue(text)
        #expect(issue.key == key)
        #expect(issue.description.contains(problem), "\(issue.description)")
    }
}

import FerryCore
import Foundation

/// Renders a configuration as the documented YAML file: every setting, its one-line meaning and
/// its value. `Config/ferry.yaml` is this rendering of the defaults (a test keeps them equal).
public enum ConfigDocument {
    public static let header = """
        # Ferry configuration.
        #
        # Every option is listed with its default value and a one-line explanation. Ferry runs on
        # these defaults with no file at all; keep only the lines you change if you prefer.
        # Pass a file with `ferry serve --config FILE` (or $FERRY_CONFIG) and check it with
        # `ferry config check --config FILE`: an unknown key, a wrong type or an out-of-range value
        # is an error that names the file, line, key, value and what was expected.
        #
        # Any option can be overridden from the environment as FERRY_<KEY> with dots written as
        # underscores, e.g. FERRY_SUPERVISOR_HEARTBEAT_INTERVAL=10s or FERRY_HTTP_PORT=9090.
        # Durations are written 500ms, 15s, 2m, 1h or 1d (or sums such as 1m30s).

        """

    /// The documented YAML text of `configuration`.
    public static func render(_ configuration: FerryConfiguration) -> String {
        var lines: [String] = []
        var openSections: [Substring] = []
        for setting in ConfigSchema.settings {
            let parts = setting.key.split(separator: ".")
            let path = Array(parts.dropLast())
            // Close the sections this key is not in, open the ones it is.
            var shared = 0
            while shared < min(path.count, openSections.count), path[shared] == openSections[shared] { shared += 1 }
            openSections = Array(openSections.prefix(shared))
            for depth in shared..<path.count {
                if depth == 0 { lines.append("") }
                lines.append(String(repeating: "  ", count: depth) + path[depth] + ":")
                openSections.append(path[depth])
            }
            if path.isEmpty { lines.append("") }
            let indent = String(repeating: "  ", count: path.count)
            let value = setting.render(configuration)
            let shown = setting.isText ? "\"\(value.replacingOccurrences(of: "\"", with: "\\\""))\"" : value
            lines.append("\(indent)# \(setting.summary)")
            lines.append("\(indent)\(parts.last!): \(shown)")
        }
        lines += ["", "# Upload targets, by the name downloads give in upload_targets. None by default; e.g.:"]
        lines += ["# targets:", "#   backup:", "#     type: dir", "#     path: /mnt/backup"]
        lines += [
            "#   archive:", "#     type: s3", "#     endpoint: https://s3.eu-west-1.amazonaws.com",
            "#     bucket: media",
            "#     region: eu-west-1         # default us-east-1", "#     prefix: ferry/            # default none",
            "#     access_key_id: AKIA…", "#     secret_key_file: /etc/ferry/s3-secret",
            "#     multipart_threshold: 64MiB  # files this big go up in parts", "#     part_size: 16MiB",
            "#     parallel_parts: 4  # parts in flight at once",
            "#   drive:", "#     type: rclone", "#     remote: onedrive:media   # any remote rclone knows",
            "#     config_file: /etc/ferry/rclone.conf  # default: rclone's own",
            "#   channel:", "#     type: telegram", "#     bot: relay               # a bot under telegram.bots",
            "#     chat_id: -1001234567890", "#     as: document             # or video, audio",
            "#     caption: \"{file_name}\"   # also {size}, {download_id}, {sha256}",
        ]
        for target in configuration.targets {
            if target == configuration.targets.first { lines.append("targets:") }
            lines += TargetFields.render(target)
        }
        lines += [
            "", "# Telegram bots whose chats send media and links to download. None by default; e.g.:",
            "# telegram:", "#   bots:", "#     relay:",
            "#       token_file: /etc/ferry/relay-bot-token  # the token, alone in a file",
            "#       allowed_chats: [123456789]   # chat ids that may send work; others are ignored",
            "#       upload_targets: [drive]       # default none", "#       delete_after_upload: false",
            "#       base_url: https://api.telegram.org  # or a local Bot API server",
            "#       local_files_folder: /var/lib/telegram-bot-api  # its working folder, with --local: no 20 MB limit",
            "#       replies: false   # answer in the chat: queued, then done or the error (edited in place)",
        ]
        for bot in configuration.telegramBots {
            if bot == configuration.telegramBots.first { lines += ["telegram:", "  bots:"] }
            lines += TelegramBotFields.render(bot)
        }
        return header + lines.joined(separator: "\n") + "\n"
    }

    /// Every setting with its environment variable, for `ferry config keys`.
    public static func keys() -> [(key: String, environment: String, expected: String, summary: String)] {
        ConfigSchema.settings.map { ($0.key, $0.environmentName, $0.expected, $0.summary) }
    }
}

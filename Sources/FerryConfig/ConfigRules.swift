import FerryCore

/// Checks that span several settings, after each one passed on its own.
enum ConfigRules {
    static func check(_ configuration: FerryConfiguration, source: String) -> [ConfigError.Issue] {
        var issues: [ConfigError.Issue] = []
        let supervisor = configuration.supervisor
        if supervisor.hangTimeout < supervisor.heartbeatInterval * 2 {
            issues.append(
                .init(
                    source: source, key: "supervisor.hang_timeout", value: DurationText.format(supervisor.hangTimeout),
                    problem:
                        "expected at least twice supervisor.heartbeat_interval (\(DurationText.format(supervisor.heartbeatInterval))), or one late heartbeat kills a healthy worker"
                ))
        }
        let restart = supervisor.restart
        if restart.maxDelay < restart.initialDelay {
            issues.append(
                .init(
                    source: source, key: "supervisor.restart.max_delay", value: DurationText.format(restart.maxDelay),
                    problem:
                        "expected at least supervisor.restart.initial_delay (\(DurationText.format(restart.initialDelay)))"
                ))
        }
        if supervisor.stallTimeout > .zero && supervisor.stallTimeout < supervisor.heartbeatInterval * 2 {
            issues.append(
                .init(
                    source: source, key: "supervisor.stall_timeout",
                    value: DurationText.format(supervisor.stallTimeout),
                    problem:
                        "expected 0 (off) or at least twice supervisor.heartbeat_interval (\(DurationText.format(supervisor.heartbeatInterval)))"
                ))
        }
        for (kind, policy) in [
            ("download", configuration.retry.download), ("upload", configuration.retry.upload),
            ("video", configuration.retry.video),
        ]
        where policy.maxDelay < policy.initialDelay {
            issues.append(
                .init(
                    source: source, key: "retry.\(kind).max_delay", value: DurationText.format(policy.maxDelay),
                    problem:
                        "expected at least retry.\(kind).initial_delay (\(DurationText.format(policy.initialDelay)))"))
        }
        let http = configuration.http
        if !NetworkAddress.isLoopback(http.address) && http.tokenFile.isEmpty {
            issues.append(
                .init(
                    source: source, key: "http.address", value: http.address,
                    problem:
                        "listens beyond this machine, so http.token_file must name a file holding the bearer token; expected a loopback address or a token file"
                ))
        }
        let targets = Set(configuration.targets.map(\.name))
        for bot in configuration.telegramBots {
            for target in bot.uploadTargets where !targets.contains(target) {
                issues.append(
                    .init(
                        source: source, key: "telegram.bots.\(bot.name).upload_targets", value: target,
                        problem:
                            "names no configured target; expected one of targets (\(targets.sorted().joined(separator: ", ")))"
                    ))
            }
        }
        let bots = Set(configuration.telegramBots.map(\.name))
        for target in configuration.targets {
            guard let telegram = target.telegram, !bots.contains(telegram.bot) else { continue }
            issues.append(
                .init(
                    source: source, key: "targets.\(target.name).bot", value: telegram.bot,
                    problem:
                        "names no configured bot; expected one of telegram.bots (\(bots.sorted().joined(separator: ", ")))"
                ))
        }
        return issues
    }
}

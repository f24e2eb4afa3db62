import FerryCore
import Foundation

/// One documented setting: its dotted key, what it means, what values it takes, and how it is
/// read from text into ``FerryConfiguration``.
struct ConfigSetting {
    /// The dotted key, e.g. `supervisor.heartbeat_interval`.
    let key: String
    /// One line for the documented file and `--help`.
    let summary: String
    /// What a valid value looks like, for error messages: "a duration between 1s and 1h".
    let expected: String
    /// Whether the value is written quoted in the documented file.
    let isText: Bool
    /// Whether a quoted YAML string is accepted: not for numbers, where quotes mean the wrong type.
    var acceptsQuoted = true
    /// The value in `configuration`, as the file writes it.
    let render: (FerryConfiguration) -> String
    /// Stores the value parsed from `text`, or returns false when `text` is not valid.
    let assign: (inout FerryConfiguration, String) -> Bool

    /// The environment variable that overrides this setting.
    var environmentName: String {
        "FERRY_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    static func duration(
        _ key: String, _ path: WritableKeyPath<FerryConfiguration, Duration>, in range: ClosedRange<Duration>,
        _ summary: String
    ) -> ConfigSetting {
        ConfigSetting(
            key: key, summary: summary,
            expected:
                "a duration such as 500ms, 15s, 2m or 1h, from \(DurationText.format(range.lowerBound)) to \(DurationText.format(range.upperBound))",
            isText: false,
            render: { DurationText.format($0[keyPath: path]) },
            assign: { configuration, text in
                guard let value = DurationText.parse(text), range.contains(value) else { return false }
                configuration[keyPath: path] = value
                return true
            })
    }

    static func integer(
        _ key: String, _ path: WritableKeyPath<FerryConfiguration, Int>, in range: ClosedRange<Int>, _ summary: String
    ) -> ConfigSetting {
        ConfigSetting(
            key: key, summary: summary, expected: "a whole number from \(range.lowerBound) to \(range.upperBound)",
            isText: false, acceptsQuoted: false,
            render: { String($0[keyPath: path]) },
            assign: { configuration, text in
                guard let value = Int(text), range.contains(value) else { return false }
                configuration[keyPath: path] = value
                return true
            })
    }

    static func number(
        _ key: String, _ path: WritableKeyPath<FerryConfiguration, Double>, in range: ClosedRange<Double>,
        _ summary: String
    ) -> ConfigSetting {
        ConfigSetting(
            key: key, summary: summary, expected: "a number from \(range.lowerBound) to \(range.upperBound)",
            isText: false, acceptsQuoted: false,
            render: { String($0[keyPath: path]) },
            assign: { configuration, text in
                guard let value = Double(text), value.isFinite, range.contains(value) else { return false }
                configuration[keyPath: path] = value
                return true
            })
    }

    static func choice(
        _ key: String, _ path: WritableKeyPath<FerryConfiguration, String>, among choices: [String], _ summary: String
    ) -> ConfigSetting {
        ConfigSetting(
            key: key, summary: summary, expected: "one of " + choices.joined(separator: ", "), isText: false,
            render: { $0[keyPath: path] },
            assign: { configuration, text in
                guard choices.contains(text) else { return false }
                configuration[keyPath: path] = text
                return true
            })
    }

    static func text(
        _ key: String, _ path: WritableKeyPath<FerryConfiguration, String>, expected: String,
        valid: @escaping (String) -> Bool, _ summary: String
    ) -> ConfigSetting {
        ConfigSetting(
            key: key, summary: summary, expected: expected, isText: true,
            render: { $0[keyPath: path] },
            assign: { configuration, text in
                guard valid(text) else { return false }
                configuration[keyPath: path] = text
                return true
            })
    }

    /// The four settings of one job kind's retry policy.
    static func retryPolicy(
        _ kind: String, _ path: WritableKeyPath<FerryConfiguration, RetryPolicy>, minimumAttempts: Int
    ) -> [ConfigSetting] {
        let attempts = minimumAttempts > 1 ? " (at least \(minimumAttempts): \(minimumAttempts - 1) retries)" : ""
        return [
            .integer(
                "retry.\(kind).max_attempts", path.appending(path: \.maxAttempts), in: minimumAttempts...1000,
                "Attempts in all before \(kind == "upload" ? "an" : "a") \(kind) ends failed\(attempts)."),
            .duration(
                "retry.\(kind).initial_delay", path.appending(path: \.initialDelay),
                in: .zero...Duration.seconds(86_400),
                "Longest wait after the first failed attempt; it grows with each attempt."),
            .duration(
                "retry.\(kind).max_delay", path.appending(path: \.maxDelay), in: .zero...Duration.seconds(7 * 86_400),
                "Cap on the wait between attempts."),
            .number(
                "retry.\(kind).multiplier", path.appending(path: \.multiplier), in: 1...10,
                "Growth of the wait from one attempt to the next."),
            .choice(
                "retry.\(kind).jitter", path.appending(path: \.jitterName),
                among: RetryPolicy.Jitter.allCases.map(\.rawValue),
                "Randomness: full (0..wait, spreads best), equal (wait/2..wait, always grows) or none."),
        ]
    }
}

extension RetryPolicy {
    /// The jitter by name, so the schema can treat it as a choice.
    var jitterName: String {
        get { jitter.rawValue }
        set { jitter = Jitter(rawValue: newValue) ?? jitter }
    }
}

extension ConfigSetting {
    /// A size in bytes, written `0`, `512KiB`, `64MiB`, `1GiB` or `2TiB`.
    static func bytes(
        _ key: String, _ path: WritableKeyPath<FerryConfiguration, Int64>, in range: ClosedRange<Int64>,
        _ summary: String
    ) -> ConfigSetting {
        ConfigSetting(
            key: key, summary: summary,
            expected: "a size such as 0, 512KiB, 64MiB or 1GiB, up to \(ByteSizeText.format(range.upperBound))",
            isText: false, acceptsQuoted: false,
            render: { ByteSizeText.format($0[keyPath: path]) },
            assign: { configuration, text in
                guard let value = ByteSizeText.parse(text), range.contains(value) else { return false }
                configuration[keyPath: path] = value
                return true
            })
    }
}

extension DownloadSettings {
    /// The schemes as the file writes them: `http,https`.
    var allowedSchemesText: String {
        get { allowedSchemes.joined(separator: ",") }
        set { allowedSchemes = Self.schemes(fromText: newValue) ?? allowedSchemes }
    }

    /// The schemes in `text`, or nil when it names none or one Ferry cannot fetch (aria2 fetches
    /// ftp, sftp and magnet).
    static func schemes(fromText text: String) -> [String]? {
        let schemes = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        let known = Aria2Settings.schemes.union(["http", "https"])
        guard !schemes.isEmpty, schemes.allSatisfy(known.contains) else { return nil }
        return schemes
    }
}

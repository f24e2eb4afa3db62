import FerryCore
import Yams

/// Walks a parsed YAML tree against ``ConfigSchema``: every key must be a known section or
/// setting, every value of the right shape and range.
struct YAMLSettingsWalker {
    let file: String
    private(set) var issues: [ConfigError.Issue] = []
    private let settings = ConfigSchema.byKey
    private let sections = ConfigSchema.sections

    init(file: String) { self.file = file }

    mutating func walk(_ node: Node, prefix: String, into configuration: inout FerryConfiguration) {
        guard case .mapping(let mapping) = node else {
            let key = prefix.isEmpty ? "(top level)" : prefix
            report(node, key: key, value: node.scalar?.string, "expected a mapping of settings (key: value lines)")
            return
        }
        for (keyNode, valueNode) in mapping {
            guard let name = keyNode.scalar?.string else {
                report(keyNode, key: prefix.isEmpty ? "(top level)" : prefix, value: nil, "keys must be plain names")
                continue
            }
            let key = prefix.isEmpty ? name : "\(prefix).\(name)"
            if key == "targets" {
                walkTargets(valueNode, into: &configuration)
            } else if key == "telegram" {
                walkTelegram(valueNode, into: &configuration)
            } else if sections.contains(key) {
                walk(valueNode, prefix: key, into: &configuration)
            } else if let setting = settings[key] {
                assign(setting, from: valueNode, into: &configuration)
            } else {
                let known = Array(settings.keys) + Array(sections)
                let hint = Suggestion.closest(to: key, among: known).map { "; did you mean \"\($0)\"?" } ?? ""
                report(keyNode, key: key, value: nil, "unknown key\(hint)")
            }
        }
    }

    /// `targets:` maps names of the user's choosing to `type` and its fields.
    private mutating func walkTargets(_ node: Node, into configuration: inout FerryConfiguration) {
        for (name, targetNode, fields) in namedEntries(node, key: "targets", what: "target", holding: "type") {
            let key = "targets.\(name)"
            var values: [String: String] = [:]
            var nodes: [String: Node] = [:]
            for (fieldNode, valueNode) in fields {
                let field = fieldNode.scalar?.string ?? ""
                guard let value = valueNode.scalar?.string else {
                    report(valueNode, key: "\(key).\(field)", value: nil, "expected text, not a list or mapping")
                    continue
                }
                values[field] = value
                nodes[field] = valueNode
            }
            let kinds = UploadTarget.Kind.allCases.map(\.rawValue)
            guard let type = values["type"] else {
                report(
                    targetNode, key: "\(key).type", value: nil,
                    "is missing; expected one of \(kinds.joined(separator: ", "))")
                continue
            }
            guard let kind = UploadTarget.Kind(rawValue: type) else {
                report(
                    nodes["type"]!, key: "\(key).type", value: type, "expected one of \(kinds.joined(separator: ", "))")
                continue
            }
            switch TargetFields.build(name: name, kind: kind, values: values) {
            case .success(let target):
                configuration.targets.append(target)
            case .failure(let problems):
                for problem in problems.list {
                    report(
                        nodes[problem.field] ?? targetNode, key: "\(key).\(problem.field)", value: problem.value,
                        problem.expected)
                }
            }
        }
    }

    /// `telegram: bots:` maps bot names of the user's choosing to their fields.
    private mutating func walkTelegram(_ node: Node, into configuration: inout FerryConfiguration) {
        if node.scalar.map({ ["", "~", "null", "{}"].contains($0.string) }) == true { return }
        guard case .mapping(let section) = node else {
            return report(node, key: "telegram", value: nil, "expected a mapping with bots")
        }
        for (keyNode, botsNode) in section {
            guard keyNode.scalar?.string == "bots" else {
                report(
                    keyNode, key: "telegram.\(keyNode.scalar?.string ?? "")", value: nil, "unknown key; expected bots")
                continue
            }
            let entries = namedEntries(
                botsNode, key: "telegram.bots", what: "bot", holding: "token_file, allowed_chats")
            for (name, botNode, mapping) in entries {
                let key = "telegram.bots.\(name)"
                var fields: [String: Node] = [:]
                for (fieldNode, valueNode) in mapping { fields[fieldNode.scalar?.string ?? ""] = valueNode }
                switch TelegramBotFields.build(name: name, fields: fields) {
                case .success(let bot): configuration.telegramBots.append(bot)
                case .failure(let problems):
                    for problem in problems.list {
                        report(
                            fields[problem.field] ?? botNode, key: "\(key).\(problem.field)", value: problem.value,
                            problem.expected)
                    }
                }
            }
        }
    }

    /// The entries of a section that maps names of the user's choosing to their fields
    /// (`targets`, `telegram.bots`); a bad name or an entry that is not a mapping is reported and left out.
    private mutating func namedEntries(
        _ node: Node, key: String, what: String, holding: String
    ) -> [(name: String, node: Node, fields: Node.Mapping)] {
        if node.scalar.map({ ["", "~", "null", "{}"].contains($0.string) }) == true { return [] }
        guard case .mapping(let mapping) = node else {
            report(node, key: key, value: nil, "expected a mapping of \(what) names to their settings")
            return []
        }
        var entries: [(name: String, node: Node, fields: Node.Mapping)] = []
        for (nameNode, entryNode) in mapping {
            let name = nameNode.scalar?.string ?? ""
            guard UploadTarget.isValidName(name) else {
                report(
                    nameNode, key: "\(key).\(name)", value: name,
                    "is not a usable \(what) name; expected letters, digits, - and _, at most 64")
                continue
            }
            guard case .mapping(let fields) = entryNode else {
                report(
                    entryNode, key: "\(key).\(name)", value: nil,
                    "expected a mapping with the \(what)'s \(holding) and its settings")
                continue
            }
            entries.append((name, entryNode, fields))
        }
        return entries
    }

    private mutating func assign(
        _ setting: ConfigSetting, from node: Node, into configuration: inout FerryConfiguration
    ) {
        guard case .scalar(let scalar) = node else {
            report(node, key: setting.key, value: nil, "expected \(setting.expected), not a list or mapping")
            return
        }
        // `key:` with nothing after it is YAML's null: say so rather than "invalid value ''".
        if scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
            report(node, key: setting.key, value: scalar.string, "has no value; expected \(setting.expected)")
            return
        }
        // A quoted number is text, the wrong type for a numeric setting.
        if !setting.acceptsQuoted, scalar.style != .plain {
            report(
                node, key: setting.key, value: scalar.string, "is quoted text; expected \(setting.expected), unquoted")
            return
        }
        if !setting.assign(&configuration, scalar.string) {
            report(node, key: setting.key, value: scalar.string, "expected \(setting.expected)")
        }
    }

    private mutating func report(_ node: Node, key: String, value: String?, _ problem: String) {
        issues.append(
            .init(
                source: file, line: node.mark?.line, column: node.mark?.column, key: key, value: value, problem: problem
            ))
    }
}

/// Turns a YAML syntax error into an issue that points at the line.
enum YAMLProblem {
    static func issue(from error: YamlError, file: String) -> ConfigError.Issue {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return .init(
                source: file, line: mark.line, column: mark.column, key: "(syntax)", value: nil,
                problem: "\(problem); expected valid YAML (is the file truncated or mis-indented?)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return .init(
                source: file, line: context.mark.line, column: context.mark.column,
                key: duplicates.joined(separator: ", "), value: nil, problem: "is set twice; keep one")
        case .reader(let problem, _, _, _):
            return .init(source: file, key: "(file)", value: nil, problem: "\(problem); expected UTF-8 YAML text")
        default:
            return .init(source: file, key: "(file)", value: nil, problem: "is not valid YAML: \(error)")
        }
    }
}

/// "Did you mean…?" for mistyped keys.
enum Suggestion {
    static func closest(to word: String, among candidates: [String]) -> String? {
        let scored = candidates.map { ($0, distance(word.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        return best.1 <= max(2, word.count / 4) ? best.0 : nil
    }

    /// Levenshtein distance.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

import FerryCore
public import Foundation
import Yams

/// Reads the configuration: embedded defaults, then the file (if any), then `FERRY_…`
/// environment overrides, each value checked strictly.
public struct ConfigLoader: Sendable {
    /// Environment variables that are not settings but are still Ferry's own.
    /// `FERRY_TEST_WORKER_FAULT=role:fault` makes a role's workers misbehave, for the fault-injection tests;
    /// `FERRY_DATABASE_PASSWORD` is the PostgreSQL password when no `database.password_file` is set.
    public static let reservedEnvironment: Set<String> = [
        "FERRY_CONFIG", "FERRY_TEST_WORKER_FAULT", DatabasePassword.environmentVariable,
    ]

    public var environment: [String: String]
    public var currentDirectory: String

    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        currentDirectory: String = FileManager.default.currentDirectoryPath
    ) {
        self.environment = environment
        self.currentDirectory = currentDirectory
    }

    /// The file to read: the one named on the command line, else `$FERRY_CONFIG`, else
    /// `ferry.yaml` in systemd's `$CONFIGURATION_DIRECTORY` when present; nil means defaults only.
    public func configurationFile(explicit: String?) -> String? {
        if let explicit, !explicit.isEmpty { return explicit }
        if let named = environment["FERRY_CONFIG"], !named.isEmpty { return named }
        if let directory = environment["CONFIGURATION_DIRECTORY"]?.split(separator: ":").first {
            let candidate = "\(directory)/ferry.yaml"
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Loads and validates the configuration.
    /// - Throws: ``ConfigError`` listing every problem, each naming its file, key, value and expectation.
    public func load(file explicit: String? = nil) throws(ConfigError) -> LoadedConfiguration {
        var configuration = FerryConfiguration()
        var issues: [ConfigError.Issue] = []
        let file = configurationFile(explicit: explicit)
        if let file {
            issues += readFile(file, into: &configuration)
        }
        var overridden: [String] = []
        issues += applyEnvironment(to: &configuration, overridden: &overridden)
        if issues.isEmpty {
            issues += ConfigRules.check(configuration, source: file ?? "configuration")
        }
        guard issues.isEmpty else { throw ConfigError(issues: issues) }
        return LoadedConfiguration(
            configuration: configuration, file: file, environmentOverrides: overridden,
            stateDirectory: stateDirectory(for: configuration))
    }

    /// The state folder: systemd's `$STATE_DIRECTORY`, else the configured one, else a folder
    /// under the current directory, so a developer's `ferry serve` needs no root.
    public func stateDirectory(for configuration: FerryConfiguration) -> String {
        if let fromSystemd = environment["STATE_DIRECTORY"]?.split(separator: ":").first, !fromSystemd.isEmpty {
            return String(fromSystemd)
        }
        let configured = configuration.stateDirectory
        if configured.isEmpty { return currentDirectory + "/ferry-state" }
        return configured.hasPrefix("/") ? configured : currentDirectory + "/" + configured
    }

    // MARK: The file

    private func readFile(_ file: String, into configuration: inout FerryConfiguration) -> [ConfigError.Issue] {
        let text: String
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: file))
            guard let decoded = String(data: data, encoding: .utf8) else {
                return [
                    .init(source: file, key: "(file)", value: nil, problem: "is not UTF-8 text; expected a YAML file")
                ]
            }
            text = decoded
        } catch {
            let reason = (error as NSError).localizedFailureReason ?? error.localizedDescription
            return [
                .init(
                    source: file, key: "(file)", value: nil,
                    problem: "cannot be read (\(reason)); expected a readable YAML file")
            ]
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            return [YAMLProblem.issue(from: error, file: file)]
        } catch {
            return [.init(source: file, key: "(file)", value: nil, problem: "is not valid YAML: \(error)")]
        }
        guard let root else { return [] }  // An empty file (or only comments) means all defaults.
        var walker = YAMLSettingsWalker(file: file)
        walker.walk(root, prefix: "", into: &configuration)
        return walker.issues
    }

    // MARK: The environment

    private func applyEnvironment(
        to configuration: inout FerryConfiguration, overridden: inout [String]
    )
        -> [ConfigError.Issue]
    {
        let settings = ConfigSchema.settings
        let byName = Dictionary(uniqueKeysWithValues: settings.map { ($0.environmentName, $0) })
        var issues: [ConfigError.Issue] = []
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix("FERRY_") {
            if Self.reservedEnvironment.contains(name) { continue }
            guard let setting = byName[name] else {
                let hint = Suggestion.closest(to: name, among: Array(byName.keys)).map { "; did you mean \($0)?" } ?? ""
                issues.append(
                    .init(
                        source: "environment", key: name, value: value,
                        problem: "is not a Ferry setting\(hint)"))
                continue
            }
            if setting.assign(&configuration, value) {
                overridden.append(setting.key)
            } else {
                issues.append(
                    .init(
                        source: "environment", key: "\(name) (\(setting.key))", value: value,
                        problem: "expected \(setting.expected)"))
            }
        }
        return issues
    }
}

/// A configuration that passed validation, with where it came from.
public struct LoadedConfiguration: Sendable, Equatable {
    public var configuration: FerryConfiguration
    /// The file read, or nil when running on the embedded defaults.
    public var file: String?
    /// Keys set from `FERRY_…` variables.
    public var environmentOverrides: [String]
    /// The resolved state folder.
    public var stateDirectory: String

    /// The database file: `database.path` (relative to the state folder) or `<state>/ferry.sqlite`.
    public var databasePath: String {
        let path = configuration.database.path
        if path.isEmpty { return stateDirectory + "/ferry.sqlite" }
        return path.hasPrefix("/") ? path : stateDirectory + "/" + path
    }

    /// The folder for database copies: `backup.folder` (relative to the state folder) or
    /// `<state>/backups`.
    public var backupFolder: String {
        let folder = configuration.backup.folder
        if folder.isEmpty { return stateDirectory + "/backups" }
        return folder.hasPrefix("/") ? folder : stateDirectory + "/" + folder
    }
}

extension LoadedConfiguration {
    /// The PostgreSQL password: the first line of `database.password_file`, else
    /// `$FERRY_DATABASE_PASSWORD`, else none (trust or peer authentication).
    public func databasePassword(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError)
        -> String?
    {
        let file = configuration.database.passwordFile
        do {
            return try DatabasePassword.read(file: file, environment: environment)
        } catch {
            throw ConfigError(issues: [
                ConfigError.Issue(
                    source: self.file ?? "embedded defaults", key: "database.password_file", value: file,
                    problem: "cannot read the file: check that it exists and that this user may read it")
            ])
        }
    }
}

import FerryConfig
import Foundation
import Testing

/// Writes configuration text to a temporary file and loads it with a controlled environment.
struct ConfigFixture {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    func write(_ text: String, name: String = "ferry.yaml") throws -> String {
        let path = folder.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func loader(_ environment: [String: String] = [:]) -> ConfigLoader {
        ConfigLoader(environment: environment, currentDirectory: folder.path)
    }

    /// Loads `text` and returns the issues it produced (failing the test when it loads cleanly).
    func issues(_ text: String, environment: [String: String] = [:]) throws -> [ConfigError.Issue] {
        let path = try write(text)
        do {
            _ = try loader(environment).load(file: path)
            Issue.record("expected the configuration to be refused")
            return []
        } catch {
            return error.issues
        }
    }

    /// The one issue `text` produces.
    func issue(_ text: String, environment: [String: String] = [:]) throws -> ConfigError.Issue {
        let issues = try issues(text, environment: environment)
        try #require(issues.count == 1, "expected one issue, got \(issues)")
        return issues[0]
    }

    func remove() {
        try? FileManager.default.removeItem(at: folder)
    }
}

/// The repository's root folder, found from this file's location.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

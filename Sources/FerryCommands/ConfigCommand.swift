import ArgumentParser
import FerryConfig
import Foundation

/// `ferry config …`
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check and show the configuration.",
        subcommands: [Check.self, Show.self, Keys.self]
    )

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Validate the configuration file and environment overrides; exit 78 with every problem when invalid.")

        @OptionGroup var options: ConfigOptions

        func run() throws {
            let loaded = try options.load()
            print("ok: \(loaded.file ?? "no file, embedded defaults")")
            print("state folder: \(loaded.stateDirectory)")
            print("database: \(loaded.databasePath)")
            if !loaded.environmentOverrides.isEmpty {
                print("set from the environment: \(loaded.environmentOverrides.joined(separator: ", "))")
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the effective configuration as a documented YAML file.")

        @OptionGroup var options: ConfigOptions

        @Flag(help: "Print the embedded defaults instead (this is Config/ferry.yaml).")
        var defaults = false

        func run() throws {
            let configuration = defaults ? FerryConfiguration() : try options.load().configuration
            print(ConfigDocument.render(configuration), terminator: "")
        }
    }

    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every setting with its environment variable and accepted values.")

        func run() {
            for entry in ConfigDocument.keys() {
                print("\(entry.key)  [\(entry.environment)]\n    \(entry.summary)\n    accepts \(entry.expected)")
            }
        }
    }
}

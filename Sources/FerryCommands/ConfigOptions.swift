import ArgumentParser
import FerryConfig
import FerryCore
import Foundation
import Logging

/// The `--config` option every command that reads the configuration takes.
struct ConfigOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The configuration file (YAML). Default: $FERRY_CONFIG, else $CONFIGURATION_DIRECTORY/ferry.yaml, else the embedded defaults.",
            valueName: "file"))
    var config: String?

    /// Loads the configuration or, when it is invalid, prints every problem and exits 78.
    func load() throws -> LoadedConfiguration {
        do {
            return try ConfigLoader().load(file: config)
        } catch {
            Terminal.error("the configuration is invalid:")
            for issue in error.issues { Terminal.error("  " + issue.description) }
            throw ExitStatus.config
        }
    }
}

/// Output helpers: results to standard output, problems to standard error.
enum Terminal {
    static func error(_ line: String) {
        FileHandle.standardError.write(Data(("ferry: " + line + "\n").utf8))
    }

    /// A logger at the configured level (the log handler is set up once, in `main`).
    static func logger(_ loaded: LoadedConfiguration, label: String = "ferry") -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = Logger.Level(rawValue: loaded.configuration.logging.level) ?? .info
        return logger
    }
}

extension StoreError {
    /// Prints the error for a person and returns the exit status that classifies it.
    func report() -> ExitCode {
        Terminal.error(message)
        switch code {
        case .corrupt, .schemaTooNew: return ExitStatus.dataError
        case .unavailable, .busy: return ExitStatus.unavailable
        case .nodeFenced: return ExitStatus.fenced
        default: return ExitStatus.software
        }
    }
}

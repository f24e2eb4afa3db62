public import Foundation

/// Where Ferry finds the PostgreSQL password, the same for the supervisor, the commands and the
/// cleanup worker: the first line of `database.password_file`, else `$FERRY_DATABASE_PASSWORD`,
/// else none (trust or peer authentication). Never logged, never on a command line.
public enum DatabasePassword {
    /// The environment variable that holds the password when no file is set.
    public static let environmentVariable = "FERRY_DATABASE_PASSWORD"

    /// The password file could not be read; callers say so in their own error type.
    public struct Unreadable: Error, Sendable {
        public let file: String
    }

    /// The password: `file`'s first line when a file is given, else the environment's.
    public static func read(
        file: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(Unreadable) -> String? {
        guard let file, !file.isEmpty else { return environment[environmentVariable] }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw Unreadable(file: file) }
        return String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
    }
}

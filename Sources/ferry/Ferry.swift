import FerryCommands
import FerrySystemd
import Logging

/// The executable: sets up logging and hands argv to the command tree in FerryCommands.
@main
enum Ferry {
    static func main() async {
        // Under systemd, records go to the journal with their metadata as fields; on a terminal
        // (or in a worker, whose standard error its supervisor reads) they stay plain text.
        let journal = JournalStream.isStandardErrorJournal()
        // Either way no record carries a URL's credentials (RedactingLogHandler).
        LoggingSystem.bootstrap { label in
            guard journal else { return RedactingLogHandler(wrapping: StreamLogHandler.standardError(label: label)) }
            return RedactingLogHandler(
                wrapping: JournalLogHandler(label: label, identifier: "ferry", derivedMetadata: workerRole))
        }
        await FerryCommand.main(nil)
    }

    /// Records about a worker name it by id, `<role>-<slot>.<generation>` (`download-2.9f3a`);
    /// journal queries want the role as a field of its own (`FERRY_ROLE=download`).
    @Sendable
    static func workerRole(_ metadata: Logger.Metadata) -> Logger.Metadata {
        guard let worker = metadata["worker"]?.description, let dash = worker.firstIndex(of: "-") else { return [:] }
        return ["role": "\(worker[..<dash])"]
    }
}

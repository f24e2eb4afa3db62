import FerryCommands
import Logging

/// The executable: sets up logging and hands argv to the command tree in FerryCommands.
@main
enum Ferry {
    static func main() async {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        await FerryCommand.main(nil)
    }
}

import FerryCore
import FerryStore
import Foundation

/// What makes a state folder one node's on a shared queue: a lock held while `ferry serve` runs
/// (`<state_dir>/node.lock`: two supervisors in one folder would take each other's files and
/// jobs for a dead incarnation's), and the folder's id (`<state_dir>/node-home`, made once), by
/// which the database tells this folder's incarnations from another machine's under the same
/// node name.
enum NodeHome {
    /// Takes the state folder's lock, and reads its id (making it on the first start).
    static func claim(_ stateDirectory: String) throws(StoreError) -> (lock: DatabaseLock, home: String) {
        let lock = try DatabaseLock.acquire(
            for: stateDirectory + "/node",
            purpose: "stop that one first, or give this one another state_dir (and its own cluster.node_name)",
            subject: "the state folder \(stateDirectory)")
        return (lock, try home(in: stateDirectory))
    }

    static func home(in stateDirectory: String) throws(StoreError) -> String {
        let path = stateDirectory + "/node-home"
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let home = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard (1...100).contains(home.count), home.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
                throw StoreError(
                    .invalidInput,
                    "\(path) does not hold a state folder id: remove it, and this folder counts as a new home at the next start"
                )
            }
            return home
        }
        let home = UUID().uuidString.lowercased()
        try writeDurably(home + "\n", to: path)
        return home
    }

    /// Writes a new file durably: a lost id would make this folder's next start a stranger to its
    /// own earlier incarnations, whose files it would then not adopt.
    private static func writeDurably(_ text: String, to path: String) throws(StoreError) {
        let temporary = path + ".new"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw failure("create", temporary) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == bytes.count, synced else { throw failure("write", temporary) }
        guard rename(temporary, path) == 0 else { throw failure("rename", path) }
        let folder = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            _ = fsync(folder)
            close(folder)
        }
    }

    private static func failure(_ operation: String, _ path: String) -> StoreError {
        StoreError(
            .unavailable,
            "cannot \(operation) \(path): \(String(cString: strerror(errno))); the state folder must be writable")
    }
}

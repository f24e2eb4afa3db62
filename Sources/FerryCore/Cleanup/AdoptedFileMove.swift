import Foundation
import Glibc
import Synchronization

/// The file an adoption moves into its new job's folder, inside the store's write transaction, so
/// that a transaction that did not commit can put it back (the move happens inside the write
/// closure, the undo after it returned). Shared by both stores' `adopt`.
public final class AdoptedFileMove: Sendable {
    private let move = Mutex<(from: String, to: String)?>(nil)

    public init() {}

    /// Moves `source` to `destination`, creating `folder`; never over an existing file.
    public func perform(_ source: String, to destination: String, creating folder: String) throws(StoreError) {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw StoreError(.conflict, "cannot create \(folder) to adopt \(source) into: \(error)")
        }
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw StoreError(.conflict, "cannot adopt \(source): \(destination) already exists")
        }
        guard rename(source, destination) == 0 else {
            throw StoreError(
                .conflict, "cannot move \(source) to \(destination) to adopt it: \(String(cString: strerror(errno)))")
        }
        move.withLock { $0 = (source, destination) }
        // The move must survive a crash as much as the record will.
        let descriptor = Glibc.open(folder, O_RDONLY | O_DIRECTORY)
        if descriptor >= 0 {
            fsync(descriptor)
            close(descriptor)
        }
    }

    /// Puts the file back where it was, when the transaction that recorded it did not commit.
    public func undo() {
        guard let move = move.withLock({ $0 }) else { return }
        rename(move.to, move.from)
        rmdir((move.to as NSString).deletingLastPathComponent)
    }

    /// A name the downloads table accepts (its checks mirror the download worker's sanitising).
    public static func adoptedName(_ path: String) -> String {
        let name = (path as NSString).lastPathComponent
        let cleaned = String(name.unicodeScalars.filter { $0.value >= 0x20 && $0 != "/" }.map(Character.init))
        guard !cleaned.isEmpty, cleaned != ".", cleaned != "..", cleaned.utf8.count <= 255 else { return "adopted" }
        return cleaned
    }
}

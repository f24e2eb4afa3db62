import Crypto
import FerryCore
import Foundation

/// What a folder result (a torrent of several files) holds: one line `<sha256>  <size>  <path>`
/// per file, the path relative to the folder, sorted by path. The folder's size is the files'
/// total and its SHA-256 that of this text, so a copy of the folder is checked like a copy of a
/// file: same size, same SHA-256.
struct FolderManifest: Equatable {
    struct Entry: Equatable {
        var path: String
        var size: Int64
        var sha256: String
    }

    /// Sorted by path.
    let entries: [Entry]

    init(_ entries: [Entry]) {
        self.entries = entries.sorted { $0.path < $1.path }
    }

    var size: Int64 { entries.reduce(0) { $0 + $1.size } }
    var text: String { entries.map { "\($0.sha256)  \($0.size)  \($0.path)\n" }.joined() }
    var sha256: String { FileHashing.hex(SHA256.hash(data: Data(text.utf8))) }

    /// Every regular file under `folder`, as paths relative to it, sorted.
    static func files(in folder: String) throws(JobFailure) -> [String] {
        guard let walk = FileManager.default.enumerator(atPath: folder) else {
            throw SpoolFile.failure("open", folder)
        }
        var files: [String] = []
        while let relative = walk.nextObject() as? String {
            let type = walk.fileAttributes?[.type] as? FileAttributeType
            if type == .typeRegular { files.append(relative) }
        }
        return files.sorted()
    }

    /// The manifest of `folder`, every file read and hashed.
    static func of(_ folder: String) throws(JobFailure) -> FolderManifest {
        var entries: [Entry] = []
        for relative in try files(in: folder) {
            let (size, sha256) = try FileHashing.sizeAndSHA256(of: "\(folder)/\(relative)")
            entries.append(Entry(path: relative, size: size, sha256: sha256))
        }
        return FolderManifest(entries)
    }

    /// The manifest of an upload's source folder, refused when it no longer matches the size and
    /// manifest SHA-256 its download recorded (a file changed or went since).
    static func of(_ spec: UploadSpec) throws(JobFailure) -> FolderManifest {
        let manifest = try of(spec.sourcePath)
        guard manifest.size == spec.sourceSize, manifest.sha256 == spec.sourceSHA256 else {
            throw .permanent(
                "source_changed",
                "the downloaded folder \(spec.sourcePath) no longer matches its record (\(manifest.size) bytes, manifest SHA-256 \(manifest.sha256)); retry the download"
            )
        }
        return manifest
    }

    /// Whether `path` is a folder (a download's folder result) rather than a file.
    static func isFolder(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}

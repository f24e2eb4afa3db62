import Foundation
import Synchronization

/// moto's S3-compatible server on loopback, started for a test and killed with it; the bucket and
/// what arrived in it are looked at through boto3 (`S3/s3_tool.py`), not through Ferry's client.
public final class S3TestServer: @unchecked Sendable {
    let process: Process
    public let endpoint: String
    /// Credentials moto accepts (any will do; these are signed and checked like real ones).
    public static let accessKeyID = "testing"
    public static let secretKey = "testing"

    public init() throws {
        // A port found free may be taken before moto binds it (by a server another test starts
        // at the same moment): then moto exits, and the port answers for someone else's server.
        // The server is ours only if our moto still runs once the port answers.
        for _ in 0..<5 {
            let port = try Self.freePort()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["moto_server", "-H", "127.0.0.1", "-p", String(port)]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(30)
            while !Self.accepts(port) && process.isRunning && Date() < deadline { usleep(50_000) }
            usleep(300_000)
            if Self.accepts(port) && process.isRunning {
                self.process = process
                endpoint = "http://127.0.0.1:\(port)"
                return
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        throw CocoaError(.fileReadUnknown, userInfo: [NSDebugDescriptionErrorKey: "moto_server did not start"])
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// An object as boto3 sees it.
    public struct StoredObject: Decodable, Sendable {
        public var key: String
        public var size: Int64
        public var sha256: String
        public var metaSHA256: String?

        enum CodingKeys: String, CodingKey {
            case key, size, sha256
            case metaSHA256 = "meta_sha256"
        }
    }

    public func createBucket(_ bucket: String) throws {
        try perform("create", bucket)
    }

    /// The bucket's objects (content hashed) and the number of unfinished multipart uploads.
    public func contents(of bucket: String) throws -> (objects: [StoredObject], unfinishedUploads: Int) {
        struct Listing: Decodable {
            var objects: [StoredObject]
            var uploads: Int
        }
        let listing = try answer(Listing.self, "list", bucket)
        return (listing.objects, listing.uploads)
    }

    /// Aborts every unfinished multipart upload, as the server's expiry would.
    public func expireUploads(in bucket: String) throws {
        _ = try tool("abort-all", bucket)
    }

    /// Starts a multipart upload of `key` and forgets it: what a CreateMultipartUpload whose answer
    /// was lost leaves on a real server.
    public func beginForgottenUpload(in bucket: String, key: String) throws {
        try perform("begin", bucket, key)
    }

    /// Turns versioning on: each write of a key is kept as a version, so writes can be counted.
    public func enableVersioning(of bucket: String) throws {
        try perform("versioning", bucket)
    }

    /// How many times `key` was written (its versions, in a bucket with versioning on).
    public func versions(of key: String, in bucket: String) throws -> Int {
        struct Count: Decodable { var versions: Int }
        return try answer(Count.self, "versions", bucket, [key]).versions
    }

    /// Writes `text` at `key`, as another client would.
    public func put(_ text: String, at key: String, in bucket: String) throws {
        try perform("put", bucket, key, text)
    }

    /// Runs a command of `S3/s3_tool.py` that answers nothing; throws with its output when it fails.
    private func perform(_ command: String, _ bucket: String, _ extra: String...) throws {
        let (status, output) = try tool(command, bucket, extra)
        guard status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSDebugDescriptionErrorKey: output]) }
    }

    /// Runs a command of `S3/s3_tool.py` that answers with a JSON line, and decodes it.
    private func answer<Answer: Decodable>(
        _ type: Answer.Type, _ command: String, _ bucket: String, _ extra: [String] = []
    ) throws -> Answer {
        let (status, output) = try tool(command, bucket, extra)
        guard status == 0, let line = output.split(separator: "\n").last else {
            throw CocoaError(.fileReadUnknown, userInfo: [NSDebugDescriptionErrorKey: output])
        }
        return try JSONDecoder().decode(type, from: Data(line.utf8))
    }

    private func tool(_ command: String, _ bucket: String, _ extra: [String] = []) throws -> (Int32, String) {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("S3/s3_tool.py")
        let result = try ChildProcess.run("python3", [script.path, endpoint, command, bucket] + extra)
        return (result.status, result.output)
    }

    /// Ports handed out in this process: the kernel may offer a released port again before its
    /// first taker has bound it, and two test servers must never share one.
    private static let handedOut = Mutex<Set<Int>>([])

    static func freePort() throws -> Int {
        for _ in 0..<100 {
            let port = try unusedPort()
            let fresh = handedOut.withLock { $0.insert(port).inserted }
            if fresh { return port }
        }
        throw CocoaError(.fileReadUnknown, userInfo: [NSDebugDescriptionErrorKey: "no fresh loopback port"])
    }

    private static func unusedPort() throws -> Int {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
            }
        }
        guard bound else { throw CocoaError(.fileReadUnknown) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func accepts(_ port: Int) -> Bool {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

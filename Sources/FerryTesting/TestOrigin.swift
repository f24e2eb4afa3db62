public import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The Python origin in `Origin/test_origin.py`, serving deterministic content on loopback, with
/// the faults a hostile network brings on request (see the script's header for every option).
public final class TestOrigin: @unchecked Sendable {
    let process = Process()
    public let port: Int

    /// Faults and behaviours of one resource.
    public struct Options: Sendable {
        /// Names the resource: its requests are counted (for `cut`, `changing`, `failures`) and logged.
        public var key: String?
        /// Bytes per second to trickle the body at (0: full speed).
        public var rate = 0
        /// Send about this many bytes, then nothing while keeping the connection open.
        public var stallAfter: Int?
        /// On the key's first request, close the connection after this many body bytes.
        public var cutAfter: Int?
        /// Content and ETag change with every request of the key.
        public var changing = false
        /// Answer the key's first `failures.count` requests with `failures.status`.
        public var failures: (status: Int, count: Int)?
        /// Ignore Range headers.
        public var noRanges = false
        /// Only a weak ETag and no Last-Modified: nothing a resume could be validated with.
        public var weakValidator = false
        /// A Content-Disposition file name.
        public var disposition: String?
        /// Redirects before the answer.
        public var redirects = 0

        public init(key: String? = nil) {
            self.key = key
        }
    }

    /// One request as the origin logged it.
    public struct LoggedRequest: Decodable, Sendable {
        public var range: String?
        public var ifRange: String?
        public var status: Int?

        enum CodingKeys: String, CodingKey {
            case range
            case ifRange = "if_range"
            case status
        }
    }

    public init() throws {
        port = try LoopbackScript.start(process, script: "Origin/test_origin.py")
    }

    public func url(size: Int, rate: Int = 0, stallAfter: Int? = nil) -> String {
        var options = Options()
        options.rate = rate
        options.stallAfter = stallAfter
        return url(size: size, options)
    }

    public func url(size: Int, _ options: Options) -> String {
        var query = ["rate=\(options.rate)"]
        if let key = options.key { query.append("key=\(key)") }
        if let stall = options.stallAfter { query.append("stall=\(stall)") }
        if let cut = options.cutAfter { query.append("cut=\(cut)") }
        if options.changing { query.append("changing=1") }
        if let failures = options.failures { query.append("fail=\(failures.status)&failures=\(failures.count)") }
        if options.noRanges { query.append("ranges=0") }
        if options.weakValidator { query.append("weak=1") }
        if let name = options.disposition {
            query.append("disposition=" + (name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? name))
        }
        if options.redirects > 0 { query.append("redirect=\(options.redirects)") }
        return "http://127.0.0.1:\(port)/file/\(size)?" + query.joined(separator: "&")
    }

    /// The requests the origin received for `key`, in order.
    public func log(_ key: String) async throws -> [LoggedRequest] {
        let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/log/\(key)")!)
        return try JSONDecoder().decode([LoggedRequest].self, from: data)
    }

    /// What `/file/<size>` serves on the `request`th request (0-based) of a `changing` key; the
    /// content of every other resource is `content(size:)`.
    public static func content(size: Int, seed: Int = 0) -> Data {
        Data((0..<size).map { UInt8(($0 + seed) % 251) })
    }

    /// The SHA-256 of what `/file/<size>` serves, computed by the system's sha256sum.
    public static func sha256(size: Int, seed: Int = 0) throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-origin-\(UUID())")
        defer { try? FileManager.default.removeItem(at: file) }
        try content(size: size, seed: seed).write(to: file)
        return try sha256(ofFile: file.path)
    }

    public static func sha256(ofFile path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = try output.fileHandleForReading.readToEnd() ?? Data()
        process.waitUntilExit()
        return String(String(decoding: data, as: UTF8.self).prefix(64))
    }

    deinit {
        // SIGKILL: the runner's blocked or ignored SIGTERM is inherited by what it spawns.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

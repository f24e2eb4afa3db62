import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// An S3-compatible server without conditional writes: the S3 test server behind a loopback proxy
/// (`S3/unconditional_proxy.py`) that refuses a write with `If-None-Match` or `If-Match` with 501
/// NotImplemented and passes everything else on.
public final class S3UnconditionalProxy: @unchecked Sendable {
    let process = Process()
    public let endpoint: String

    public init(before server: S3TestServer) throws {
        guard let upstream = URL(string: server.endpoint)?.port else {
            throw CocoaError(.fileReadUnknown, userInfo: [NSDebugDescriptionErrorKey: "no port in \(server.endpoint)"])
        }
        let port = try LoopbackScript.start(process, script: "S3/unconditional_proxy.py", arguments: [String(upstream)])
        endpoint = "http://127.0.0.1:\(port)"
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// How many conditional writes it refused.
    public func refusals() async throws -> Int {
        guard let url = URL(string: endpoint + "/_refused") else { return -1 }
        let (data, _) = try await URLSession.shared.data(from: url)
        return Int(String(decoding: data, as: UTF8.self)) ?? -1
    }
}

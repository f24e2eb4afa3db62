import Foundation

/// pyftpdlib serving a folder to anonymous users on loopback (`ftp_server.py`), optionally cutting
/// the first transfer of each file and limiting its rate.
public final class FTPTestServer: Sendable {
    let server: ScriptServer
    public let port: Int

    public init(folder: String, cutAfter: Int? = nil, rate: Int? = nil) throws {
        var arguments = [folder, ScriptServer.readyFileArgument]
        if let cutAfter { arguments += ["--cut-after", String(cutAfter)] }
        if let rate { arguments += ["--rate", String(rate)] }
        server = try ScriptServer(script: "ftp_server.py", arguments: arguments)
        port = try server.port()
    }

    public func url(_ name: String) -> String { "ftp://127.0.0.1:\(port)/\(name)" }
}

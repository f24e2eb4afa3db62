import Foundation

/// An SFTP server (asyncssh) serving a folder on loopback to any user and password
/// (`sftp_server.py`), optionally at a limited rate.
public final class SFTPTestServer: Sendable {
    let server: ScriptServer
    public let port: Int

    public init(folder: String, rate: Int? = nil) throws {
        var arguments = [folder, ScriptServer.readyFileArgument]
        if let rate { arguments += ["--rate", String(rate)] }
        server = try ScriptServer(script: "sftp_server.py", arguments: arguments)
        port = try server.port()
    }

    /// The URL of `name`, with credentials the server takes (any would do).
    public func url(_ name: String) -> String { "sftp://ferry:secret@127.0.0.1:\(port)/\(name)" }
}

import PostgresNIO

/// The two PostgresNIO configurations Ferry builds from one ``PostgresStoreConfiguration``: the
/// pool's and the lease connection's. They take the same endpoint, with a TLS setting of their own.
protocol PostgresEndpointConfiguration {
    associatedtype TLS
    init(unixSocketPath: String, username: String, password: String?, database: String?)
    init(host: String, port: Int, username: String, password: String?, database: String?, tls: TLS)
}

extension PostgresClient.Configuration: PostgresEndpointConfiguration {}
extension PostgresConnection.Configuration: PostgresEndpointConfiguration {}

extension PostgresStoreConfiguration {
    /// Where and as whom to connect: the Unix socket folder when set (no TLS there), else host and
    /// port with the TLS `tls` makes for the URL's `sslmode`.
    func endpoint<C: PostgresEndpointConfiguration>(tls: (TLSMode) throws -> C.TLS) rethrows -> C {
        if let socketFolder {
            return C(
                unixSocketPath: "\(socketFolder)/.s.PGSQL.\(port)", username: user, password: password,
                database: database)
        }
        return C(host: host, port: port, username: user, password: password, database: database, tls: try tls(self.tls))
    }
}

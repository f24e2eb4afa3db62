public import FerryConfig
import FerryCore
public import FerrySupervisor
import Foundation
import Hummingbird
import HummingbirdCore
public import Logging
public import ServiceLifecycle

/// The HTTP admin inside `ferry serve`: health, Prometheus metrics and the job and worker API on
/// `http.address`:`http.port`. It opens the supervisor's start-up gate once the port is bound,
/// so READY=1 is never sent for a daemon that cannot be reached.
public struct AdminServer: Service {
    private let server: AdminHTTPServer
    private let address: String

    /// The bearer token from `http.token_file`, or nil when none is configured.
    /// - Throws: ``AdminError`` when the file cannot be used.
    public static func token(for configuration: FerryConfiguration) throws(AdminError) -> AdminToken? {
        configuration.http.tokenFile.isEmpty ? nil : try AdminToken.load(from: configuration.http.tokenFile)
    }

    public init(
        supervisor: Supervisor, configuration: FerryConfiguration, stateDirectory: String, token: AdminToken?,
        exporter: PrometheusExporter, gate: StartupGate, logger: Logger
    ) {
        let http = configuration.http
        let dependencies = AdminDependencies(
            supervisor: supervisor, store: supervisor.store, exporter: exporter, logger: logger,
            hangTimeout: configuration.supervisor.hangTimeout, diskFullHorizon: configuration.health.diskFullHorizon,
            stuckAfter: configuration.health.stuckAfter, uploadTargets: Set(configuration.targets.map(\.name)),
            allowedSchemes: configuration.downloads.allowedSchemes, maxSize: configuration.downloads.maxSize,
            stateDirectory: stateDirectory)
        let routes = RouteRegistry()
        HealthController(dependencies: dependencies).register(in: routes)
        CleanupController(dependencies: dependencies).register(in: routes)
        DownloadsController(dependencies: dependencies).register(in: routes)
        UploadsController(dependencies: dependencies).register(in: routes)
        VideosController(dependencies: dependencies).register(in: routes)
        JobsController(dependencies: dependencies).register(in: routes)
        WorkersController(dependencies: dependencies).register(in: routes)
        ClusterController(dependencies: dependencies).register(in: routes)
        DocumentsController().register(in: routes)
        EventsController(dependencies: dependencies).register(in: routes)
        HistoryController(dependencies: dependencies).register(in: routes)
        TelegramController(dependencies: dependencies).register(in: routes)
        PageController().register(in: routes)
        let router = Router(context: AdminContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: ErrorMiddleware(logger: logger, routes: routes.knownRoutes))
        router.add(middleware: AccessMiddleware(token: token))
        routes.install(on: router)
        let address = http.address.contains(":") ? "[\(http.address)]" : http.address
        self.address = "\(address):\(http.port)"
        self.server = AdminHTTPServer(
            responder: router.buildResponder(),
            configuration: ServerConfiguration(
                address: .hostname(http.address, port: http.port), serverName: "ferry/\(FerryVersion.current)"),
            logger: logger,
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? http.port
                logger.notice(
                    "admin API listening", metadata: ["url": "http://\(address):\(port)", "port": "\(port)"])
                await gate.open()
            })
    }

    public func run() async throws {
        do {
            try await server.run()
        } catch {
            throw AdminError(
                code: .cannotListen,
                message:
                    "the admin API cannot listen on \(address): \(error); set http.address and http.port to a free "
                    + "address of this machine, or stop the process that holds it")
        }
    }
}

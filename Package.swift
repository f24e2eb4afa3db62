// swift-tools-version:6.2
// Ferry: a supervised media-transfer daemon. The module graph mirrors the architecture in
// ../shared/DESIGN.md; lower layers never import higher ones:
//
//   FerryCore ─┬─ FerryConfig ──┐
//   (pure)     ├─ FerryStore ───┼─ FerrySupervisor ── FerryAdmin ── FerryCommands ── ferry (executable)
//              CSystemd ── FerrySystemd ─┘                    FerryWorkers ─┘
//              └─ FerryPostgres (the JobStore on PostgreSQL, for several nodes on one queue)
//   (FerryWorkers reads FerryStore read-only, for the cleanup worker's scan.)
import PackageDescription

/// Settings every Ferry target shares: Swift 6 language mode is the package default, and a
/// warning in our own code is an error (dependencies are not affected).
let strict: [SwiftSetting] = [
    .treatAllWarnings(as: .error),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "ferry",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ferry", targets: ["ferry"]),
        .library(name: "FerryCore", targets: ["FerryCore"]),
        .library(name: "FerryConfig", targets: ["FerryConfig"]),
        .library(name: "FerryStore", targets: ["FerryStore"]),
        .library(name: "FerryPostgres", targets: ["FerryPostgres"]),
        .library(name: "FerryTesting", targets: ["FerryTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // Domain model, lifecycles, policies and the store interface. No I/O, no dependencies.
        .target(name: "FerryCore", swiftSettings: strict),
        // The configuration file (YAML), environment overrides and their strict validation.
        .target(
            name: "FerryConfig",
            dependencies: ["FerryCore", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        // The durable job store: SQLite through GRDB, migrations, schema invariants.
        .target(
            name: "FerryStore",
            dependencies: ["FerryCore", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict
        ),
        // The same job store on PostgreSQL (postgres-nio, no ORM): one queue for several nodes.
        .target(
            name: "FerryPostgres",
            dependencies: [
                "FerryCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // libsystemd, the SwiftPM way; wrapped by FerrySystemd so no C type leaks further.
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .target(
            name: "FerrySystemd",
            dependencies: ["CSystemd", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // prctl(2), variadic in C, and sync_file_range(2), which Glibc's Swift module does not
        // expose: system calls out of Swift's reach.
        .target(name: "CProcessControl"),
        // The worker process: the protocol loop and the job executors. It never writes the database;
        // only the cleanup worker opens it, read-only, for its scan.
        .target(
            name: "FerryWorkers",
            dependencies: [
                "FerryCore", "FerryStore", "FerryPostgres", "CProcessControl",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // `ferry serve`: opens and recovers the store, talks to systemd, runs until told to stop.
        .target(
            name: "FerrySupervisor",
            dependencies: [
                "FerryCore", "FerryConfig", "FerryStore", "FerryPostgres", "FerrySystemd", "CProcessControl",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // The HTTP admin inside `ferry serve`: health, Prometheus metrics, the job API, the page.
        .target(
            name: "FerryAdmin",
            dependencies: [
                "FerryCore", "FerryConfig", "FerryStore", "FerrySupervisor",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // Compiled into the binary: the daemon serves them with no files beside it.
            resources: [.embedInCode("OpenAPI/openapi.json"), .embedInCode("Page/admin.html")],
            swiftSettings: strict
        ),
        // Every subcommand of `ferry`, as a library so tests can call them without argv.
        .target(
            name: "FerryCommands",
            dependencies: [
                "FerryCore", "FerryConfig", "FerryStore", "FerryPostgres", "FerrySupervisor", "FerryWorkers",
                "FerryAdmin", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "ferry",
            dependencies: ["FerryCommands", "FerrySystemd", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // Helpers shared by the tests and the benchmarks: temporary folders, seeded stores.
        .target(
            name: "FerryTesting",
            dependencies: ["FerryCore", "FerryConfig", "FerryStore"],
            // The loopback origin the tests and benchmarks fetch from, the boto3 checker of the S3
            // test server, the fake Telegram Bot API, and the aria2 tests' FTP and SFTP servers and torrent
            // swarm (Python, run as children).
            exclude: [
                "Origin", "S3", "BotAPI", "Aria2/ftp_server.py", "Aria2/sftp_server.py", "Aria2/torrent_swarm.py",
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "FerryCoreTests", dependencies: ["FerryCore", "FerryTesting"], swiftSettings: strict),
        .testTarget(
            name: "FerryConfigTests",
            dependencies: ["FerryConfig", "FerryTesting"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "FerryStoreTests",
            dependencies: [
                "FerryStore", "FerryPostgres", "FerryTesting", .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "FerryWorkersTests",
            dependencies: [
                "FerryWorkers", "FerryStore", "FerryPostgres", "FerryTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "FerrySupervisorTests",
            dependencies: ["FerrySupervisor", "FerryPostgres", "FerryTesting"],
            swiftSettings: strict
        ),
        .testTarget(name: "FerryAdminTests", dependencies: ["FerryAdmin", "FerryTesting"], swiftSettings: strict),
        .testTarget(
            name: "FerrySystemdTests",
            dependencies: ["FerrySystemd", "FerryTesting"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "FerryCommandsTests",
            dependencies: [
                "ferry", "FerryTesting", "FerryStore", "FerryPostgres",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            // The Chromium driver the page tests run (Python, run as a child).
            exclude: ["Browser"],
            swiftSettings: strict
        ),
    ]
)

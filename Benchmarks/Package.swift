// swift-tools-version:6.2
// Benchmarks live apart from the tests: they print figures and never decide whether a build passes.
// Run them through ../Makefile (`make bench`) or Benchmarks/run-queue-benchmark.
import PackageDescription

let package = Package(
    name: "ferry-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "ferry", path: "..")
    ],
    targets: [
        .executableTarget(
            name: "QueueBenchmark",
            dependencies: [
                .product(name: "FerryCore", package: "ferry"),
                .product(name: "FerryStore", package: "ferry"),
                .product(name: "FerryPostgres", package: "ferry"),
            ],
            swiftSettings: [.treatAllWarnings(as: .error)]
        )
    ]
)

import FerrySupervisor
import Foundation
import Hummingbird

/// `GET /api/metrics/history`: the samples the supervisor kept (the last hour), for the admin
/// page's sparklines. Read from memory; nothing is measured per request.
struct HistoryController {
    let dependencies: AdminDependencies

    func register(in routes: RouteRegistry) {
        routes.get("/api/metrics/history") { _, _ in
            let samples = await dependencies.supervisor.metrics.history()
            return try JSONResponse.make(History(samples: samples.map(Point.init)))
        }
    }

    struct History: Encodable {
        var samples: [Point]
    }

    struct Point: Encodable {
        var at: Date
        var cpuBusyRatio: Double?
        var load1: Double
        var memoryTotalBytes: Int
        var memoryAvailableBytes: Int
        /// Available bytes per managed folder.
        var diskAvailableBytes: [String: Int]
        var diskTotalBytes: [String: Int]

        init(_ sample: MetricsSnapshot) {
            at = sample.at
            cpuBusyRatio = sample.system.cpuBusyFraction
            load1 = sample.system.load1
            memoryTotalBytes = sample.system.memoryTotalBytes
            memoryAvailableBytes = sample.system.memoryAvailableBytes
            var available: [String: Int] = [:]
            var total: [String: Int] = [:]
            for disk in sample.system.disks {
                if case .success(let usage) = disk.usage {
                    available[disk.label] = usage.availableBytes
                    total[disk.label] = usage.totalBytes
                }
            }
            diskAvailableBytes = available
            diskTotalBytes = total
        }
    }
}

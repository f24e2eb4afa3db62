import FerryCore
import FerryStore
import FerryTesting
import Foundation
import Testing

extension ProcessSuites {
    /// The supervisor with real worker processes, real signals and a real notify socket.
    @Suite("Supervising worker processes", .serialized)
    struct SupervisorProcessTests {
        /// Short intervals so hangs and restarts show within seconds.
        static let fast = [
            "FERRY_SUPERVISOR_HEARTBEAT_INTERVAL": "200ms", "FERRY_SUPERVISOR_HANG_TIMEOUT": "1s",
        ]

        @Test("READY comes after every role said hello; STOPPING on SIGTERM; no worker outlives the stop")
        func readyAndStop() throws {
            let harness = try SupervisorHarness(environment: Self.fast)
            let ready = try #require(harness.waitForNotification(containing: "READY=1"))
            #expect(ready.contains("STATUS=ready: download 1/1, upload 1/1, store 1/1, cleanup 1/1"))
            let workers = harness.workers()
            #expect(workers.values.joined().count == 4)
            #expect(harness.stop() == 0)
            let stopping = harness.waitForNotification(containing: "STOPPING=1", timeout: 5)
            #expect(stopping?.contains("EXTEND_TIMEOUT_USEC=") == true)
            for pid in workers.values.joined() {
                #expect(!ProcessTable.isAlive(pid), "worker \(pid) outlived the stop")
            }
        }

        @Test("A worker killed with SIGKILL is replaced at once and its exit is recorded")
        func killedWorkerIsReplaced() async throws {
            let harness = try SupervisorHarness(environment: Self.fast)
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let victim = try #require(harness.workers()[.download]?.first)
            kill(victim, SIGKILL)
            #expect(
                harness.waitForWorkers { ($0[.download] ?? []).contains { $0 != victim } }, "no replacement started")
            let store = try harness.store()
            var records: [WorkerRecord] = []
            for _ in 0..<100 {
                records = try await store.workers(includeExited: true, limit: 20).filter { $0.role == .download }
                if records.contains(where: { $0.pid == victim && $0.exit != nil }) { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let dead = try #require(records.first { $0.pid == victim })
            #expect(dead.exit?.reason == "signal")
            #expect(dead.exit?.signal == SIGKILL)
            #expect(records.contains { $0.pid != victim && $0.exit == nil }, "the replacement is registered")
            #expect(harness.stop() == 0)
        }

        @Test("A stopped (SIGSTOP) worker is declared hung within the timeout, killed and replaced")
        func hungWorkerIsReplaced() async throws {
            let harness = try SupervisorHarness(environment: Self.fast)
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let victim = try #require(harness.workers()[.upload]?.first)
            kill(victim, SIGSTOP)
            let started = Date()
            #expect(harness.waitForWorkers(timeout: 10) { ($0[.upload] ?? []).contains { $0 != victim } })
            #expect(Date().timeIntervalSince(started) < 6, "hang timeout 1 s plus the kill grace")
            #expect(!ProcessTable.isAlive(victim))
            let store = try harness.store()
            var reason: String?
            for _ in 0..<100 {
                reason = try await store.workers(includeExited: true, limit: 20).first { $0.pid == victim }?.exit?
                    .reason
                if reason != nil { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(reason == "hang")
            #expect(harness.stop() == 0)
        }

        @Test("A worker that exits at once: restarts back off and the role is reported crash-looping")
        func crashLoopingRole() throws {
            let harness = try SupervisorHarness(
                environment: Self.fast.merging(["FERRY_TEST_WORKER_FAULT": "cleanup:exit-at-start"]) { $1 })
            let looping = harness.waitForNotification(containing: "crash-looping: cleanup", timeout: 30)
            #expect(looping != nil, "STATUS= never said the role is crash-looping: \(harness.notifications)")
            #expect(looping?.contains("STATUS=starting") == true, "READY must wait for every role's hello")
            #expect(!harness.notifications.contains { $0.contains("READY=1") })
            #expect(harness.stop() == 0)
        }

        @Test("A worker that writes garbage is treated as a protocol violation and replaced")
        func protocolViolation() throws {
            let harness = try SupervisorHarness(
                environment: Self.fast.merging(["FERRY_TEST_WORKER_FAULT": "store:garbage-after-hello"]) { $1 })
            // The pid is taken from the same look at /proc that found it: the violator may already
            // be gone by the next one.
            var first: Int32 = 0
            let seen = harness.waitForWorkers { byRole in
                guard let pid = byRole[.store]?.first else { return false }
                first = pid
                return true
            }
            #expect(seen, "no store worker ever started")
            #expect(
                harness.waitForWorkers { ($0[.store] ?? []).contains { $0 != first } }, "the violator was not replaced")
            #expect(harness.stop() == 0)
        }

        @Test("SIGKILL of the supervisor takes every worker with it")
        func workersDieWithTheSupervisor() throws {
            let harness = try SupervisorHarness(environment: Self.fast)
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let workers = Array(harness.workers().values.joined())
            #expect(workers.count == 4)
            kill(harness.pid, SIGKILL)
            harness.serve.process.waitUntilExit()
            let deadline = Date().addingTimeInterval(5)
            while Date() < deadline && workers.contains(where: ProcessTable.isAlive) { usleep(20_000) }
            for pid in workers { #expect(!ProcessTable.isAlive(pid), "worker \(pid) survived its supervisor") }
        }

        @Test("WATCHDOG=1 arrives at half the interval systemd asks for")
        func watchdogCadence() throws {
            let harness = try SupervisorHarness(environment: Self.fast.merging(["WATCHDOG_USEC": "1000000"]) { $1 })
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            var pings: [Date] = []
            let deadline = Date().addingTimeInterval(3.2)
            while Date() < deadline {
                if let message = harness.notify.receive(timeout: 0.2), message.contains("WATCHDOG=1") {
                    pings.append(Date())
                }
            }
            #expect(pings.count >= 4 && pings.count <= 9, "expected about 6 pings in 3.2 s, got \(pings.count)")
            #expect(harness.stop() == 0)
        }

        @Test("SIGHUP reloads: RELOADING then READY; an invalid new file keeps the running configuration")
        func reload() throws {
            let scratchFile = FileManager.default.temporaryDirectory.appendingPathComponent(
                "ferry-reload-\(UUID()).yaml")
            defer { try? FileManager.default.removeItem(at: scratchFile) }
            try Data("workers:\n  upload:\n    processes: 1\n".utf8).write(to: scratchFile)
            let harness = try SupervisorHarness(environment: Self.fast, arguments: ["--config", scratchFile.path])
            try #require(harness.waitForNotification(containing: "READY=1") != nil)

            try Data("workers:\n  upload:\n    processes: 2\n".utf8).write(to: scratchFile)
            kill(harness.pid, SIGHUP)
            let reloading = harness.waitForNotification(containing: "RELOADING=1")
            #expect(reloading?.contains("MONOTONIC_USEC=") == true)
            #expect(harness.waitForNotification(containing: "READY=1") != nil)
            #expect(harness.waitForWorkers { ($0[.upload] ?? []).count == 2 }, "the new worker count was not applied")

            try Data("workers:\n  upload:\n    processes: lots\n".utf8).write(to: scratchFile)
            kill(harness.pid, SIGHUP)
            #expect(harness.waitForNotification(containing: "RELOADING=1") != nil)
            #expect(harness.waitForNotification(containing: "READY=1") != nil)
            usleep(300_000)
            #expect(harness.serve.process.isRunning)
            #expect(harness.workers()[.upload]?.count == 2, "the running configuration was kept")
            #expect(harness.stop() == 0)
        }
    }
}

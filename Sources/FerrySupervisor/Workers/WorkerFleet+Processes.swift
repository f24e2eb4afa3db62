import FerryCore
import Foundation
import Logging

/// The fleet's processes: one per slot, started, drained, retired and killed.
extension WorkerFleet {
    /// Makes the slots match the wanted number of processes per role.
    func applyPools() {
        for role in WorkerRole.allCases {
            let wanted = stopping ? 0 : (settings.pools[role]?.processes ?? 0)
            var roleSlots = slots[role] ?? []
            while roleSlots.count < wanted { roleSlots.append(WorkerSlot(role: role, index: roleSlots.count + 1)) }
            slots[role] = roleSlots
            for index in roleSlots.indices {
                if index < wanted {
                    if case .retired = roleSlots[index].phase, roleSlots[index].id == nil { launch(role, index) }
                } else if slots[role]![index].id != nil {
                    retire(role, index)
                } else {
                    slots[role]![index].phase = .retired
                }
            }
        }
    }

    func launch(_ role: WorkerRole, _ index: Int) {
        let suffix = String(UInt32.random(in: 0...UInt32.max, using: &generator), radix: 16)
        let id = WorkerID("\(role)-\(index + 1).\(suffix)" + (node.map { "@\($0)" } ?? ""))
        let (inputs, continuation) = AsyncStream<WorkerInput>.makeStream()
        let concurrency = settings.pools[role]?.concurrency ?? 1
        var slot = WorkerSlot(role: role, index: index)
        slot.phase = .starting
        slot.id = id
        slot.inputs = continuation
        slots[role]![index] = slot
        let launcher = WorkerLauncher(
            executable: executable,
            arguments: [
                "worker", "--role", role.rawValue, "--id", id.rawValue, "--parent-pid", String(getpid()),
                "--heartbeat-ms", String(settings.heartbeatInterval.inMilliseconds), "--concurrency",
                String(concurrency), "--state-dir", stateDirectory, "--settings", settingsArgument,
            ] + faultArguments(role),
            environment: environment[role] ?? [:], id: id)
        let sink = eventSink
        Task { await launcher.run(inputs: inputs, events: sink) }
        rearm()
    }

    /// The worker settings as the `--settings` argument.
    var settingsArgument: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? String(decoding: encoder.encode(settings.work), as: UTF8.self)) ?? "{}"
    }

    /// Asks a worker to finish and leave; the slot stays empty.
    func retire(_ role: WorkerRole, _ index: Int) {
        slots[role]![index].phase = .retired
        requestDrain(role, index, cause: .recycled)
    }

    /// Asks a worker to finish its jobs and exit; it gets no new work. If it is still there after
    /// the drain grace it is told to checkpoint and leave, then killed (see ``tick(now:)``).
    func requestDrain(_ role: WorkerRole, _ index: Int, cause: WorkerExitCause) {
        guard slots[role]![index].id != nil, slots[role]![index].drainSentAt == nil else { return }
        slots[role]![index].killCause = slots[role]![index].killCause ?? cause
        slots[role]![index].drainSentAt = .now
        slots[role]![index].inputs?.yield(.message(.drain))
        rearm()
    }

    func locate(_ id: WorkerID) -> (WorkerRole, Int)? {
        for (role, roleSlots) in slots {
            if let index = roleSlots.firstIndex(where: { $0.id == id }) { return (role, index) }
        }
        return nil
    }

    var liveCount: Int {
        slots.values.joined().filter { $0.id != nil }.count
    }

    /// Ends a worker: SIGTERM now, SIGKILL after the grace (see ``tick(now:)``).
    func kill(_ id: WorkerID, cause: WorkerExitCause) {
        guard let (role, index) = locate(id), slots[role]![index].killSentAt == nil else { return }
        slots[role]![index].killCause = cause
        slots[role]![index].killSentAt = .now
        slots[role]![index].inputs?.yield(.signal(SIGTERM))
        // A stopped process cannot act on SIGTERM; let it see it.
        slots[role]![index].inputs?.yield(.signal(SIGCONT))
        rearm()
    }

    func tick(now: ContinuousClock.Instant) {
        for role in WorkerRole.allCases {
            for index in (slots[role] ?? []).indices {
                let slot = slots[role]![index]
                switch slot.phase {
                case .starting, .ready:
                    if let sent = slot.killSentAt {
                        if now - sent >= settings.killGrace { slot.inputs?.yield(.signal(SIGKILL)) }
                    } else if slot.drainSentAt != nil {
                        escalateDrain(role, index, now: now)
                    } else if now - slot.lastHeard >= settings.hangTimeout {
                        logger.error(
                            "a worker stopped answering; replacing it",
                            metadata: [
                                "worker": "\(slot.id?.rawValue ?? "?")", "silent_for": "\(now - slot.lastHeard)",
                            ])
                        kill(slot.id!, cause: .hang)
                    } else if case .ready = slot.phase, !slot.countedStable,
                        now - slot.startedAt >= settings.restart.stableAfter
                    {
                        slots[role]![index].countedStable = true
                        restartStates[role, default: RoleRestartState()].recordStable()
                    }
                case .waitingToRestart(let until):
                    if now >= until && !stopping { launch(role, index) }
                case .retired:
                    if let sent = slot.killSentAt, slot.id != nil, now - sent >= settings.killGrace {
                        slot.inputs?.yield(.signal(SIGKILL))
                    } else if slot.id != nil, slot.drainSentAt != nil {
                        escalateDrain(role, index, now: now)
                    }
                }
            }
        }
    }

    /// A draining worker gets the drain grace to finish, then is told to checkpoint and leave,
    /// then killed; it stays subject to the hang timeout throughout.
    func escalateDrain(_ role: WorkerRole, _ index: Int, now: ContinuousClock.Instant) {
        let slot = slots[role]![index]
        guard let drained = slot.drainSentAt, let id = slot.id, !stopping else { return }
        if let shutdown = slot.shutdownSentAt {
            if now - shutdown >= settings.killGrace { kill(id, cause: slot.killCause ?? .recycled) }
        } else if now - drained >= settings.drainGrace {
            slots[role]![index].shutdownSentAt = now
            slot.inputs?.yield(.message(.shutdown))
        } else if now - slot.lastHeard >= settings.hangTimeout {
            kill(id, cause: .hang)
        }
    }

    /// Test hook: `FERRY_TEST_WORKER_FAULT=role:fault` makes that role's workers misbehave.
    func faultArguments(_ role: WorkerRole) -> [String] {
        guard let spec = ProcessInfo.processInfo.environment["FERRY_TEST_WORKER_FAULT"] else { return [] }
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0] == role.rawValue else { return [] }
        return ["--fault", parts[1]]
    }
}

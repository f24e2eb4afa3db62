import FerryCore
import Testing

/// Every legal and illegal transition of every job kind.
@Suite("Job lifecycles")
struct JobLifecycleTests {
    /// The legal moves, written out by hand as the specification the lifecycle must match.
    static let legal: [JobKind: [String]] = {
        let transfer = [
            "queued claim running", "queued pause paused", "queued cancel cancelled", "queued fail failed",
            "running complete succeeded", "running schedule_retry queued", "running requeue queued",
            "running fail failed", "running cancel cancelled", "running pause paused", "paused resume queued",
            "paused cancel cancelled", "failed retry queued", "cancelled retry queued",
        ]
        return [
            .download: transfer + ["succeeded refetch queued", "queued adopt succeeded"],
            .upload: transfer + ["succeeded mark_cleaned cleaned"],
            .video: [
                "temporary claim storing", "temporary fail failed", "storing complete stored",
                "storing schedule_retry temporary", "storing requeue temporary", "storing fail failed",
                "failed retry temporary", "stored refetch temporary",
            ],
        ]
    }()

    @Test("Every command in every state of every kind is either the specified move or a typed error")
    func everyCommandInEveryState() {
        for kind in JobKind.allCases {
            let lifecycle = JobLifecycle.of(kind)
            var seen: Set<String> = []
            for state in JobState.allCases {
                for command in JobCommand.allCases {
                    do {
                        let target = try lifecycle.apply(command, to: state)
                        let move = "\(state) \(command) \(target)"
                        #expect(Self.legal[kind]!.contains(move), "\(kind): \(move) is not in the specification")
                        seen.insert(move)
                    } catch {
                        #expect(error == TransitionError(kind: kind, from: state, command: command))
                        #expect(error.description == "'\(command)' is not allowed for a \(kind) job that is \(state)")
                    }
                }
            }
            #expect(
                seen == Set(Self.legal[kind]!),
                "\(kind): specified moves missing: \(Set(Self.legal[kind]!).subtracting(seen))")
        }
    }

    @Test("Each kind starts waiting, runs in one state, and reaches every state from its start")
    func shape() {
        for kind in JobKind.allCases {
            let lifecycle = JobLifecycle.of(kind)
            #expect(lifecycle.initialState.phase == .waiting)
            #expect(lifecycle.runningState.phase == .running)
            var reached: Set<JobState> = [lifecycle.initialState]
            var frontier = [lifecycle.initialState]
            while let state = frontier.popLast() {
                for move in lifecycle.transitions where move.from == state && !reached.contains(move.to) {
                    reached.insert(move.to)
                    frontier.append(move.to)
                }
            }
            #expect(reached == lifecycle.states, "\(kind): unreachable \(lifecycle.states.subtracting(reached))")
        }
    }

    @Test("A generated video can never be paused or cancelled: losing it is what the store prevents")
    func videoIsNeverDropped() {
        let video = JobLifecycle.video
        #expect(video.sourceStates(of: .cancel).isEmpty)
        #expect(video.sourceStates(of: .pause).isEmpty)
        #expect(!video.states.contains(.cancelled))
    }

    @Test("Succeeded work only moves on to archived; finished states leave only by an explicit retry or a refetch")
    func finalStates() {
        // A refetch is the cleanup's: a finished record whose file went missing or bad.
        for kind in JobKind.allCases {
            for move in JobLifecycle.of(kind).transitions where move.from.phase.isFinal {
                #expect(
                    move.command == .retry || move.command == .markCleaned || move.command == .refetch,
                    "\(kind): \(move.from) leaves by \(move.command)")
            }
        }
    }

    @Test("Phases: waiting, running and paused are live; everything else is final")
    func phases() {
        for state in JobState.allCases {
            let live: Set<JobPhase> = [.waiting, .running, .paused]
            #expect(state.phase.isFinal == !live.contains(state.phase), "\(state)")
        }
    }
}

/// The state machine of each job kind, as data: which states a kind uses, where it starts, and
/// which command moves it from which state to which.
///
/// This is the single source of truth. The store refuses any update that is not one of these
/// transitions (its schema carries the same table, and a test checks the two agree), so no code
/// path can put a job into a state its lifecycle does not allow.
public struct JobLifecycle: Sendable {
    /// One legal move.
    public struct Transition: Hashable, Sendable {
        public var from: JobState
        public var command: JobCommand
        public var to: JobState

        public init(from: JobState, command: JobCommand, to: JobState) {
            self.from = from
            self.command = command
            self.to = to
        }
    }

    public let kind: JobKind
    /// The state a new job of this kind is created in.
    public let initialState: JobState
    public let transitions: [Transition]

    /// All states this kind can be in.
    public var states: Set<JobState> {
        Set(transitions.flatMap { [$0.from, $0.to] }).union([initialState])
    }

    /// The lifecycle of a kind.
    public static func of(_ kind: JobKind) -> JobLifecycle {
        switch kind {
        case .download: .download
        case .upload: .upload
        case .video: .video
        }
    }

    /// The state `command` moves a job of this kind in `state` to.
    /// - Throws: ``TransitionError`` when the lifecycle has no such move.
    public func apply(_ command: JobCommand, to state: JobState) throws(TransitionError) -> JobState {
        guard let move = transitions.first(where: { $0.from == state && $0.command == command }) else {
            throw TransitionError(kind: kind, from: state, command: command)
        }
        return move.to
    }

    /// The state of this kind that a command expects to find, for the commands that have only one.
    public func sourceStates(of command: JobCommand) -> [JobState] {
        transitions.filter { $0.command == command }.map(\.from)
    }

    /// The state this kind waits in before a worker claims it.
    public var waitingState: JobState { initialState }

    /// The state this kind is in while a worker holds it.
    public var runningState: JobState {
        transitions.first { $0.command == .claim }!.to
    }

    // queued → running → succeeded | failed | cancelled, paused ⇄ queued, retries back to queued.
    private static let transferMoves: [Transition] = [
        .init(from: .queued, command: .claim, to: .running),
        .init(from: .queued, command: .pause, to: .paused),
        .init(from: .queued, command: .cancel, to: .cancelled),
        // The pending scan fails queued work whose input has vanished.
        .init(from: .queued, command: .fail, to: .failed),
        .init(from: .running, command: .complete, to: .succeeded),
        .init(from: .running, command: .scheduleRetry, to: .queued),
        .init(from: .running, command: .requeue, to: .queued),
        .init(from: .running, command: .fail, to: .failed),
        .init(from: .running, command: .cancel, to: .cancelled),
        // Pausing a running transfer releases it; its resume state lets it continue later.
        .init(from: .running, command: .pause, to: .paused),
        .init(from: .paused, command: .resume, to: .queued),
        .init(from: .paused, command: .cancel, to: .cancelled),
        .init(from: .failed, command: .retry, to: .queued),
        .init(from: .cancelled, command: .retry, to: .queued),
    ]

    /// download: queued → running → succeeded | failed | cancelled (paused ⇄ queued by request).
    /// A finished download whose file went missing or bad is fetched again, and a file found with
    /// no record may be adopted as a finished download (both cleanup's reconcile).
    public static let download = JobLifecycle(
        kind: .download, initialState: .queued,
        transitions: transferMoves + [
            .init(from: .succeeded, command: .refetch, to: .queued),
            .init(from: .queued, command: .adopt, to: .succeeded),
        ])

    /// upload: as a download, plus succeeded → cleaned once the local source is removed.
    public static let upload = JobLifecycle(
        kind: .upload,
        initialState: .queued,
        transitions: transferMoves + [.init(from: .succeeded, command: .markCleaned, to: .cleaned)]
    )

    /// video: temporary → storing → stored | failed, retried back to temporary. A generated video
    /// is never paused or cancelled: losing it is exactly what the store exists to prevent.
    public static let video = JobLifecycle(
        kind: .video,
        initialState: .temporary,
        transitions: [
            .init(from: .temporary, command: .claim, to: .storing),
            .init(from: .temporary, command: .fail, to: .failed),
            .init(from: .storing, command: .complete, to: .stored),
            .init(from: .storing, command: .scheduleRetry, to: .temporary),
            .init(from: .storing, command: .requeue, to: .temporary),
            .init(from: .storing, command: .fail, to: .failed),
            .init(from: .failed, command: .retry, to: .temporary),
            // A stored video whose file went missing or bad is fetched again (cleanup's reconcile).
            .init(from: .stored, command: .refetch, to: .temporary),
        ]
    )
}

/// A command that the job's lifecycle does not allow in its current state.
public struct TransitionError: Error, Hashable, Sendable, CustomStringConvertible {
    public let kind: JobKind
    public let from: JobState
    public let command: JobCommand

    public init(kind: JobKind, from: JobState, command: JobCommand) {
        self.kind = kind
        self.from = from
        self.command = command
    }

    public var description: String {
        "'\(command)' is not allowed for a \(kind) job that is \(from)"
    }
}

/// Every state a job can be in, across all kinds. Which states a kind uses, and how it moves
/// between them, is the business of ``JobLifecycle``.
public enum JobState: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
    // download and upload
    case queued
    case running
    case paused
    case succeeded
    /// An upload whose local source file was removed after every upload of its download succeeded.
    case cleaned
    case failed
    case cancelled
    // video
    /// A video still only at its temporary URL, waiting to be stored.
    case temporary
    /// A video being fetched and written to the permanent store.
    case storing
    /// A video held in the permanent store.
    case stored

    public var description: String { rawValue }

    /// The states a job is still to leave, in declaration order.
    public static let unfinished = allCases.filter { !$0.phase.isFinal }

    /// What a state means to the engine, independent of the kind's vocabulary.
    public var phase: JobPhase {
        switch self {
        case .queued, .temporary: .waiting
        case .running, .storing: .running
        case .paused: .paused
        case .succeeded, .stored: .succeeded
        case .cleaned: .archived
        case .failed: .failed
        case .cancelled: .cancelled
        }
    }
}

/// The engine's view of a state: what may happen to a job in it and which columns it must carry.
public enum JobPhase: String, CaseIterable, Sendable {
    /// Ready to be claimed once its due time has come.
    case waiting
    /// Held by a live worker: has an owner and a start time.
    case running
    /// Held back by an operator; not claimable until resumed.
    case paused
    /// Finished with a result (location, size, SHA-256).
    case succeeded
    /// Finished, its result delivered and its local source removed.
    case archived
    /// Finished without a result; carries its last error.
    case failed
    /// Stopped by request.
    case cancelled

    /// Whether the job has reached an end (a manual retry may still reopen failed or cancelled).
    public var isFinal: Bool {
        switch self {
        case .waiting, .running, .paused: false
        case .succeeded, .archived, .failed, .cancelled: true
        }
    }
}

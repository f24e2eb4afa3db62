/// A job's identity, stable for its whole life and across kinds (`/api/jobs/{id}` takes any).
public struct JobID: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: Int64

    public init(rawValue: Int64) { self.rawValue = rawValue }
    public init(_ rawValue: Int64) { self.rawValue = rawValue }

    public var description: String { String(rawValue) }
    public static func < (lhs: JobID, rhs: JobID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A worker process's identity as the supervisor names it, e.g. `download-1.3f9c`: role, slot
/// and a per-start suffix, so a restarted slot never reuses its predecessor's name.
public struct WorkerID: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }
}

/// Proof that a worker holds a job: the outcome of an attempt is accepted only while the job is
/// still running under the same owner and attempt number, so a worker declared dead can never
/// overwrite the work of its successor.
public struct JobLease: Hashable, Sendable, Codable {
    public var jobID: JobID
    public var owner: WorkerID
    public var attempt: Int

    public init(jobID: JobID, owner: WorkerID, attempt: Int) {
        self.jobID = jobID
        self.owner = owner
        self.attempt = attempt
    }
}

import FerryCore
internal import GRDB

/// Waiting jobs keep their real-time wait across steps of the wall clock (see ``WallClockSteps``).
extension SQLiteJobStore {
    /// Moves every waiting job's due time by the wall clock's step since the last look, if it
    /// stepped; called before anything compares due times with the clock (claims, due checks).
    ///
    /// A job due ten seconds from now stays due ten seconds from now, and one already due stays
    /// due by as long as it was (the health's stuck-job check reads that). The step is taken
    /// before the write, so two callers never both apply it, and given back if the write fails.
    func applyWallClockStep() async throws(StoreError) {
        guard configuration.followsWallClockSteps else { return }
        let wall = nowMilliseconds
        let monotonic = ContinuousClock.now.millisecondsSinceReference
        let taken: Int64? = wallClockSteps.withLock { steps in
            guard let step = steps.step(wall: wall, monotonic: monotonic) else { return nil }
            steps.accept(step)
            return step
        }
        guard let step = taken else { return }
        do {
            _ = try await write { db in try Self.shiftWaitingJobs(db, by: step) }
        } catch {
            wallClockSteps.withLock { $0.accept(-step) }
            throw error
        }
    }

    /// Adds `step` milliseconds to the due time of every job waiting for a claim.
    static func shiftWaitingJobs(_ db: Database, by step: Int64) throws -> Int {
        let waiting = Set(JobKind.allCases.map { JobLifecycle.of($0).waitingState.rawValue })
        try db.execute(
            sql:
                "UPDATE jobs SET due_at = due_at + ? WHERE state IN (\(waiting.map { "'\($0)'" }.sorted().joined(separator: ", ")))",
            arguments: [step])
        return db.changesCount
    }
}

extension ContinuousClock.Instant {
    /// Milliseconds since the clock's (arbitrary, fixed) reference: only differences mean anything.
    var millisecondsSinceReference: Int64 {
        let components = (self - ContinuousClock.Instant.reference).components
        return components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }

    private static let reference = ContinuousClock.now
}

/// Steps of the wall clock (set forward or back by hand, by NTP or by a VM's resume), seen by
/// comparing it with the monotonic clock, which never steps.
///
/// Times in the store are wall-clock milliseconds, so a job waiting out a retry is due at a
/// wall-clock time. Set the clock an hour forward and every waiting job is due at once; set it
/// ten minutes back and each waits ten minutes more. The store moves every waiting job's due time
/// by each step it sees, so a wait lasts what it was meant to in real time. The offset between
/// the two clocks is constant while neither steps (NTP's slewing moves both alike); a change
/// above ``tolerance`` is a step. The first reading is the baseline.
public struct WallClockSteps: Sendable {
    /// Changes of the offset this small are noise (a reading's delay), not a step.
    public static let tolerance: Int64 = 1_000

    /// Wall minus monotonic, in milliseconds, as last accepted.
    private var offset: Int64?

    public init() {}

    /// The step since the last accepted reading, in milliseconds (positive: the wall clock went
    /// forward), when it is above the tolerance; nil otherwise. Call ``accept(_:)`` once the
    /// step has been applied.
    public mutating func step(wall: Int64, monotonic: Int64) -> Int64? {
        let current = wall - monotonic
        guard let offset else {
            offset = current
            return nil
        }
        let step = current - offset
        return abs(step) > Self.tolerance ? step : nil
    }

    /// Records that a step returned by ``step(wall:monotonic:)`` has been applied.
    public mutating func accept(_ step: Int64) {
        offset = (offset ?? 0) + step
    }
}

/// The waiting jobs of one kind that a claim may take, as the SQL both stores share: conditions
/// on a `jobs` row, each selecting a set that an index yields in claim order (one for most
/// kinds; for uploads, those outside any lane and the heads of the free lanes, see
/// ``FollowUpUploads/claimable(ready:isHead:)``). A claim, a look for due work and the earliest
/// due time each take the sets apart and merge them, so no set's index is walked past what it
/// yields. Placeholders are the caller's (`?2` on SQLite, `$2` on PostgreSQL).
public struct WaitingSets: Sendable, Equatable {
    public let conditions: [String]

    /// The sets of `kind`: its waiting state, or for uploads the claimable ones with `ready`,
    /// the store's further condition (`AND …`), and `isHead` (see ``FollowUpUploads``; by
    /// default `jobs.id IN (…)`, each head looked up by its id).
    public init(
        _ kind: JobKind, uploadReady ready: String, isHead: (String) -> String = { "jobs.id IN (\($0))" }
    ) {
        guard kind == .upload else {
            conditions = ["kind = '\(kind.rawValue)' AND state = '\(JobLifecycle.of(kind).waitingState.rawValue)'"]
            return
        }
        conditions = FollowUpUploads.claimable(ready: ready, isHead: isHead)
    }

    /// The ids of the first `limit` jobs due at `now`, in claim order: each set in its index's
    /// order (with `lock` after each set's own query: PostgreSQL's `FOR UPDATE SKIP LOCKED`), then
    /// merged.
    public func candidates(now: String, limit: String, lock: String = "") -> String {
        let order = "ORDER BY priority DESC, due_at, id LIMIT \(limit)"
        let suffix = lock.isEmpty ? "" : " " + lock
        guard conditions.count > 1 else {
            return "SELECT id FROM jobs WHERE \(conditions[0]) AND due_at <= \(now) \(order)\(suffix)"
        }
        let each = conditions.enumerated().map { index, condition in
            """
            SELECT * FROM (SELECT id, priority, due_at FROM jobs WHERE \(condition) AND due_at <= \(now) \(order)\(suffix)) \
            AS set\(index)
            """
        }
        return "SELECT id FROM (\(each.joined(separator: " UNION ALL "))) AS sets \(order)"
    }

    /// Whether any set holds a job due at `now`: each EXISTS stops at its set's first due row.
    public func anyDue(now: String) -> String {
        "("
            + conditions.map { "EXISTS (SELECT 1 FROM jobs WHERE \($0) AND due_at <= \(now))" }
            .joined(separator: " OR ") + ")"
    }

    /// The earliest due time among the sets (NULL when all are empty), as a scalar subquery.
    public var earliestDue: String {
        "(SELECT min(due) FROM ("
            + conditions.map { "SELECT min(due_at) AS due FROM jobs WHERE \($0)" }.joined(separator: " UNION ALL ")
            + ") AS waiting_sets)"
    }
}

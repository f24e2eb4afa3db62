/// How a store creates the uploads of a download that succeeded: their retry budget, and which
/// targets take one upload at a time.
public struct FollowUpUploads: Sendable, Equatable {
    public var policy: RetryPolicy
    /// Targets whose uploads run one at a time, oldest first (Telegram targets: a chat takes about
    /// one message a second, so a second upload there would only hold a slot while it waits its
    /// turn). Their uploads get the target's name as their lane; the store claims at most one
    /// running upload per lane, and its schema refuses a second.
    public var serialTargets: Set<String>

    public init(policy: RetryPolicy, serialTargets: Set<String> = []) {
        self.policy = policy
        self.serialTargets = serialTargets
    }

    /// The lane of an upload to `target`, or nil when such uploads run side by side.
    public func lane(of target: String) -> String? {
        serialTargets.contains(target) ? target : nil
    }

    /// The waiting uploads a claim may take, as conditions on a `jobs` row (the same SQL on both
    /// stores), each selecting a set that an index yields in claim order: the uploads outside any
    /// lane (`jobs_free_uploads`), and the head of each lane with no running upload — its first
    /// waiting upload in claim order whose download has succeeded, found by walking the lanes
    /// present in `jobs_lane_queue` (a few index probes per lane). A claim, a look for due work
    /// and the earliest due time each take the sets apart (UNION ALL): one condition tested row
    /// by row would pass over every upload a busy lane holds back (11.6 ms a claim behind a held
    /// backlog of 10,000, measured). `ready` is the store's further condition on a claimable
    /// upload (`AND …`: its download has succeeded, and on PostgreSQL its file is on this node);
    /// a lane's head on another node holds its lane here, so the lane keeps its order.
    /// `isHead` turns the query of the heads' ids into the condition that the `jobs` row is one
    /// (SQLite: `jobs.id IN (…)`, each head looked up by its id; PostgreSQL's, see its claim).
    public static func claimable(ready: String, isHead: (String) -> String) -> [String] {
        [
            "jobs.kind = 'upload' AND jobs.state = 'queued' AND jobs.lane IS NULL \(ready)",
            "\(isHead(laneHeads)) \(ready)",
        ]
    }

    /// The ids of the heads of the lanes with no running upload (NULL for a lane whose waiting
    /// uploads all wait for their download). The recursive part steps from one lane to the next
    /// through the index instead of reading every waiting upload to find the lanes.
    static let laneHeads = """
        WITH RECURSIVE lanes(name) AS (
            SELECT min(lane) FROM jobs WHERE lane IS NOT NULL AND state = 'queued'
            UNION ALL
            SELECT (SELECT min(lane) FROM jobs WHERE lane > lanes.name AND state = 'queued')
            FROM lanes WHERE lanes.name IS NOT NULL)
        SELECT (SELECT head.id FROM jobs head
                WHERE head.lane = lanes.name AND head.state = 'queued'
                    AND EXISTS (SELECT 1 FROM uploads hu JOIN jobs hd ON hd.id = hu.download_id
                        WHERE hu.job_id = head.id AND hd.state = 'succeeded')
                ORDER BY head.priority DESC, head.due_at, head.id LIMIT 1)
        FROM lanes
        WHERE lanes.name IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM jobs busy WHERE busy.lane = lanes.name AND busy.state = 'running')
        """
}

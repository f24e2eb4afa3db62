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

    /// The condition (the same SQL on both stores) a waiting upload `jobs` row of a lane meets
    /// to be claimed: no upload of its lane runs, and it is the lane's head, its first waiting
    /// upload in claim order whose download has succeeded (one probe of `jobs_lane_queue`).
    public static let laneCondition = """
        (jobs.lane IS NULL OR (
            NOT EXISTS (SELECT 1 FROM jobs busy WHERE busy.lane = jobs.lane AND busy.state = 'running')
            AND jobs.id = (SELECT head.id FROM jobs head
                WHERE head.lane = jobs.lane AND head.state = 'queued'
                    AND EXISTS (SELECT 1 FROM uploads hu JOIN jobs hd ON hd.id = hu.download_id
                        WHERE hu.job_id = head.id AND hd.state = 'succeeded')
                ORDER BY head.priority DESC, head.due_at, head.id LIMIT 1)))
        """
}

/// Migration `v11-free-uploads`: a claim of uploads no longer walks the uploads a busy lane holds
/// back.
///
/// - `jobs_free_uploads` holds the waiting uploads outside any lane, in claim order (led by
///   `kind, state` like `jobs_queue`, so that SQLite's planner, which has no statistics to tell
///   the two apart, prefers it for the claim's `kind = 'upload' AND state = 'queued'`); a lane's
///   waiting uploads are found through `jobs_lane_queue`, one head per lane
///   (``FollowUpUploads/claimable(ready:isHead:)``).
/// - Before it, one condition per row passed over every waiting upload of a busy lane: with
///   10,000 uploads held behind a Telegram chat's running one, each claim of another target's
///   upload took 11.6 ms instead of 0.46 (BENCHMARKS.md, "Serial lanes with a long backlog").
enum SchemaV11 {
    static let identifier = "v11-free-uploads"

    static let sql = """
        CREATE INDEX jobs_free_uploads ON jobs(kind, state, priority DESC, due_at, id)
            WHERE kind = 'upload' AND state = 'queued' AND lane IS NULL;
        """
}

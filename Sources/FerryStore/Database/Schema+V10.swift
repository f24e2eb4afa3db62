/// Migration `v10-serial-lanes`: uploads to a target that takes one upload at a time (Telegram)
/// run one at a time, oldest first.
///
/// - `jobs.lane` is the target's name on an upload to such a target, NULL otherwise. The claim
///   takes at most one upload per lane (``SQLiteJobStore/waitingSets(_:)``), and the index below makes
///   the database refuse a second running one, whoever writes it.
/// - Before it, a backlog to one chat filled every upload slot with uploads waiting their turn
///   under Telegram's flood control, and uploads to every other target waited behind them.
enum SchemaV10 {
    static let identifier = "v10-serial-lanes"

    static let sql = """
        ALTER TABLE jobs ADD COLUMN lane TEXT CONSTRAINT jobs_lane_of_an_upload
            CHECK (lane IS NULL OR (kind = 'upload' AND length(lane) BETWEEN 1 AND 64));
        CREATE UNIQUE INDEX jobs_one_running_per_lane ON jobs(lane) WHERE lane IS NOT NULL AND state = 'running';
        -- Each lane's waiting uploads in claim order: the claim reads a lane's head from it.
        CREATE INDEX jobs_lane_queue ON jobs(lane, priority DESC, due_at, id) WHERE lane IS NOT NULL AND state = 'queued';
        """
}

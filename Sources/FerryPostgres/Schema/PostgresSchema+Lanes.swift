/// Migration `pg8-serial-lanes`: uploads to a target that takes one upload at a time (Telegram)
/// run one at a time, oldest first, across every node (the SQLite store's `v10-serial-lanes`).
///
/// - `jobs.lane` is the target's name on an upload to such a target, NULL otherwise.
/// - The partial unique index makes PostgreSQL refuse a second running upload in a lane, whoever
///   writes it. The claim takes only a lane's head, so two claims at once do not break it; should
///   one ever, its unique violation is treated as a crossing and the claim retried.
/// - A lane's upload that stops running frees the lane for the next, which may wait on another
///   node (its file is there): the wake-up trigger now also says `upload` for it.
enum PostgresLanesSchema {
    static var sql: String {
        """
        ALTER TABLE jobs ADD COLUMN lane text CONSTRAINT jobs_lane_of_an_upload
            CHECK (lane IS NULL OR (kind = 'upload' AND length(lane) BETWEEN 1 AND 64));
        CREATE UNIQUE INDEX jobs_one_running_per_lane ON jobs(lane) WHERE lane IS NOT NULL AND state = 'running';
        -- Each lane's waiting uploads in claim order: the claim reads a lane's head from it.
        CREATE INDEX jobs_lane_queue ON jobs(lane, priority DESC, due_at, id) WHERE lane IS NOT NULL AND state = 'queued';

        CREATE OR REPLACE FUNCTION ferry_notify_work() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('ferry_work', kind)
            FROM (SELECT DISTINCT kind FROM waiting
                WHERE state IN (\(PostgresSchema.waitingStates)) OR (lane IS NOT NULL AND state <> 'running')) AS kinds;
            RETURN NULL;
        END $$;
        """
    }
}

/// Migration `pg9-free-uploads`: a claim of uploads no longer walks the uploads a busy lane holds
/// back (the SQLite store's `v11-free-uploads`): `jobs_free_uploads` holds the waiting uploads
/// outside any lane, in claim order, and a lane's are reached through `jobs_lane_queue`, one
/// head per lane (``FollowUpUploads/claimable(ready:isHead:)``).
enum PostgresFreeUploadsSchema {
    static let sql = """
        CREATE INDEX jobs_free_uploads ON jobs(kind, state, priority DESC, due_at, id)
            WHERE kind = 'upload' AND state = 'queued' AND lane IS NULL;
        """
}

/// Migration `pg10-detail-keys`: a detail row (`downloads`, `uploads`, `videos`) references its
/// job by `jobs (id)`, and a statement-level guard keeps "a job's details are of its kind".
///
/// Before it, the composite key `(job_id, kind) → jobs (id, kind)` did both, but PostgreSQL plans
/// a foreign key's check once per connection, at its first use: on a fresh table the generic plan
/// of `WHERE id = $1 AND kind = $2` walked `jobs_queue` by kind, every download's entry for each
/// row inserted (73 of the batched enqueue's 104 µs per job at 20,000 jobs, growing with the
/// table). A check of `id = $1` alone has one sensible plan, the primary key. The guard looks each
/// job up by its id too (a LATERAL probe per row), since its plan is also cached per session and a
/// join planned on an empty `jobs` would hash a scan of the whole table. The SQLite store keeps
/// its composite keys (it has no such plan cache).
enum PostgresDetailKeysSchema {
    static var sql: String {
        let tables = ["downloads", "uploads", "videos"]
        let keys = tables.map { table in
            """
            ALTER TABLE \(table) DROP CONSTRAINT \(table)_job_id_kind_fkey,
                ADD CONSTRAINT \(table)_job_id_fkey FOREIGN KEY (job_id) REFERENCES jobs(id) ON DELETE CASCADE;
            """
        }
        let guards = tables.map { table in
            """
            CREATE TRIGGER \(table)_of_their_kind AFTER INSERT ON \(table) REFERENCING NEW TABLE AS added
                FOR EACH STATEMENT EXECUTE FUNCTION ferry_details_of_their_kind();
            CREATE TRIGGER \(table)_stay_of_their_kind AFTER UPDATE ON \(table) REFERENCING NEW TABLE AS added
                FOR EACH STATEMENT EXECUTE FUNCTION ferry_details_of_their_kind();
            """
        }
        return """
            \(keys.joined(separator: "\n"))

            -- A job's details are of its kind (each table's kind column is fixed by its own check).
            CREATE FUNCTION ferry_details_of_their_kind() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF EXISTS (SELECT 1 FROM added d, LATERAL (SELECT j.kind FROM jobs j WHERE j.id = d.job_id) j
                    WHERE j.kind IS DISTINCT FROM d.kind)
                THEN
                    RAISE EXCEPTION 'a job''s details belong to a job of their kind (%)', TG_TABLE_NAME
                        USING ERRCODE = '23503';
                END IF;
                RETURN NULL;
            END $$;
            \(guards.joined(separator: "\n"))
            """
    }
}

/// Migration `pg11-no-id-kind-key`: `UNIQUE (id, kind)` on `jobs` was only the target of the
/// composite keys `pg10-detail-keys` replaced; the primary key already makes each id unique, and
/// a job never changes its kind (the update guard refuses it). One index less to write per job.
enum PostgresIdKindKeySchema {
    static let sql = "ALTER TABLE jobs DROP CONSTRAINT jobs_id_kind_key;"
}

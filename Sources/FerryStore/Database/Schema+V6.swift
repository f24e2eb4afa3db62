/// Migration `v6-adopt`: a cleanup run with `cleanup.orphans: adopt` turns a file it found in the
/// downloads folder with no record into a finished download: created queued, then adopted.
enum SchemaV6 {
    static let identifier = "v6-adopt"

    static let sql = """
        INSERT INTO job_transitions (kind, from_state, cause, to_state) VALUES
            ('download', 'queued', 'adopt', 'succeeded');
        """
}

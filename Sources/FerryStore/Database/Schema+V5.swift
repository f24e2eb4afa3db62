/// Migration `v5-refetch`: the cleanup worker's reconciliation may send a finished download or a
/// stored video whose file is missing or damaged back to be fetched again from its source.
enum SchemaV5 {
    static let identifier = "v5-refetch"

    static let sql = """
        INSERT INTO job_transitions (kind, from_state, cause, to_state) VALUES
            ('download', 'succeeded', 'refetch', 'queued'),
            ('video', 'stored', 'refetch', 'temporary');
        """
}

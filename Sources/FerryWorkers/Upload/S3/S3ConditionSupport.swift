/// The S3 servers this process found without conditional writes (an `If-None-Match` or
/// `If-Match` refused with 501 or 400, and the same write accepted without it). Their later writes
/// go without a condition at once: a PUT's whole body is otherwise sent twice, every time. Said
/// once per server, since such a server cannot refuse a write that a dead attempt sent late.
actor S3ConditionSupport {
    private var without: Set<String> = []

    /// Whether writes to `server` are to carry their condition.
    func takesConditions(_ server: String) -> Bool { !without.contains(server) }

    /// Notes that `server` took a write only without its condition.
    func refusesConditions(_ server: String) {
        guard without.insert(server).inserted else { return }
        WorkerRuntime.log(
            "the S3 server \(server) does not take conditional writes (If-None-Match, If-Match): uploads to it are sent without them from now on; a write sent by an attempt that died may then reach it after another attempt delivered, and write the object twice"
        )
    }
}

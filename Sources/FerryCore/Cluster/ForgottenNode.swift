/// What forgetting a node did with the records of the files it held.
public struct ForgottenNode: Sendable, Equatable {
    public init() {}

    /// The node's incarnations, now stopped for good (`stop_reason` `forgotten`).
    public var incarnations: [String] = []
    /// Running jobs its workers still held, put back in the queue.
    public var released: [JobID] = []
    /// Downloads sent back to be fetched again from their source by a live node.
    public var refetched: [JobID] = []
    /// Downloads delivered to every target whose file was to be removed after that anyway: their
    /// uploads are marked cleaned, as the node's own clean-up would have.
    public var cleaned: [JobID] = []
    /// Records whose file cannot come back (a download adopted from a file on that node, a video
    /// stored in its local folder): they stay, pointing at a file that is gone.
    public var lost: [JobID] = []
}

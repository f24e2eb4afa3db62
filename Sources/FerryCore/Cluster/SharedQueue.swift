public import Foundation

/// One `ferry serve` on a shared queue: its incarnation's id (the name plus a fresh suffix, so a
/// restart is a new node and its predecessor's work can be told apart), its name, the address of
/// its admin API, and the lease it holds on the database's clock.
public struct NodeIdentity: Sendable, Hashable {
    public var id: String
    public var name: String
    public var address: String?
    public var lease: Duration
    /// The id of the state folder this node works in (written there once): a name stands for a
    /// state folder, so a live incarnation of the same name with another home is another machine
    /// (or folder) using the name, and registering is refused. Nil: unknown (a tool, a test).
    public var home: String?

    public init(
        name: String, incarnation: String = String(UUID().uuidString.prefix(8)).lowercased(),
        address: String? = nil, lease: Duration = .seconds(15), home: String? = nil
    ) {
        self.name = name
        self.id = "\(name).\(incarnation)"
        self.address = address
        self.lease = lease
        self.home = home
    }
}

/// A node as every other node sees it in the database.
public struct ClusterNode: Sendable, Hashable {
    public var id: String
    public var name: String
    public var address: String?
    /// Time left on its lease by the database's clock; zero or less once it ran out.
    public var leaseLeft: Duration
    public var stopReason: String?
    public var liveWorkers: Int
    public var jobsHeld: Int

    public var isLive: Bool { stopReason == nil && leaseLeft > .zero }

    public init(
        id: String, name: String, address: String?, leaseLeft: Duration, stopReason: String?, liveWorkers: Int,
        jobsHeld: Int
    ) {
        self.id = id
        self.name = name
        self.address = address
        self.leaseLeft = leaseLeft
        self.stopReason = stopReason
        self.liveWorkers = liveWorkers
        self.jobsHeld = jobsHeld
    }
}

/// What wakes an idle node: work of a kind became claimable somewhere in the cluster, or the
/// node now listens (at first, or again after a gap during which notifications were lost), so it
/// must look for work once.
public enum WakeUp: Sendable, Hashable {
    case work(JobKind)
    case listening
}

/// A queue that several nodes share (the PostgreSQL store): each node holds a lease on the
/// database's clock, renews it, takes over the work of nodes whose lease ran out, and is refused
/// every write (`node_fenced`) once its own lease ran out.
public protocol SharedQueue: JobStore {
    /// This process's node; nil for a store opened by a tool (`ferry db …`), whose node methods refuse.
    var nodeIdentity: NodeIdentity? { get }
    /// Enters the cluster with a first lease. Throws `conflict` when a live incarnation of the same
    /// name works in another home (two machines or state folders given one name).
    func registerNode() async throws(StoreError)
    /// Renews the lease; returns the time it now has left, or throws `node_fenced` when it had run out.
    @discardableResult
    func renewLease() async throws(StoreError) -> Duration
    /// Leaves the cluster cleanly.
    func stopNode(reason: String) async throws(StoreError)
    /// Puts back the work of every node whose lease ran out (leaderless, idempotent).
    func takeOverDeadNodes() async throws(StoreError) -> [RequeuedJob]
    /// The nodes not stopped, and those stopped within a day.
    func cluster() async throws(StoreError) -> [ClusterNode]
    /// Forgets the node `name` for good (a machine that will not come back with its state
    /// folder): its incarnations stop for good, what they held is put back, and the records of
    /// the files it held are settled. With `dryRun`, the same in a transaction rolled back: the
    /// report of what it would do now. Throws `conflict` while an incarnation holds a live lease,
    /// `not_found` when no node of that name ever joined.
    func forgetNode(named name: String, dryRun: Bool) async throws(StoreError) -> ForgottenNode
    /// The node holding each finished job's file, for those of `ids` that have one.
    func fileNodes(of ids: [JobID]) async throws(StoreError) -> [JobID: String]
    /// Wake-ups for new work anywhere in the cluster.
    func wakeUps() -> AsyncStream<WakeUp>
    /// Elects the node that long-polls each of `bots` (this node's configured Telegram bots;
    /// Telegram allows one `getUpdates` per bot): this node keeps the bots it polls, takes those
    /// no live node polls, and gives up those it polls but no longer has configured. Returns the
    /// polling node's id for each of `bots`. Throws `node_fenced` once this node's lease ran out.
    func electTelegramPollers(_ bots: [String]) async throws(StoreError) -> [String: String]
}

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
}

public import FerryCore
import Foundation
public import Logging

/// Keeps this node's lease on a shared queue, and fences the node the moment it may no longer
/// act: when the database refuses a renewal (the lease ran out, or another node declared it
/// dead), or when no renewal got through for almost a whole lease by this process's own
/// monotonic clock — before any other node can take its work, since they wait for the lease on
/// the database's clock plus one renewal interval of their own.
///
/// Each renewal also runs the take-over of dead nodes (leaderless: every live node does it, and
/// the store makes racing take-overs put each job back once).
public actor NodeLease {
    public enum State: Sendable, Equatable {
        case joining
        /// The lease was last renewed at `renewedAt` (sent then, so the database's expiry is no earlier).
        case live(renewedAt: ContinuousClock.Instant)
        case fenced(reason: String)
    }

    public private(set) var state: State = .joining
    /// Jobs this node has put back from dead nodes since it started.
    public private(set) var takenOver = 0
    /// Set by ``leave(reason:)``: no more renewals, and a refusal after it is no fence.
    private var leaving = false
    private let queue: any SharedQueue
    public nonisolated let identity: NodeIdentity
    private let logger: Logger
    private let onTakeOver: @Sendable ([RequeuedJob]) async -> Void
    private let onFenced: @Sendable (String) async -> Void

    /// - Parameters:
    ///   - onTakeOver: jobs put back from dead nodes (the fleet can dispatch them at once).
    ///   - onFenced: called once, with why: stop dispatching, stop the workers, stop pinging the
    ///     watchdog, report `fail`.
    ///   - joinedAt: when the node already took its first lease (start-up registers before it
    ///     recovers); nil: ``run()`` registers it.
    public init(
        queue: any SharedQueue, joinedAt: ContinuousClock.Instant? = nil, logger: Logger,
        onTakeOver: @escaping @Sendable ([RequeuedJob]) async -> Void,
        onFenced: @escaping @Sendable (String) async -> Void
    ) throws(StoreError) {
        guard let identity = queue.nodeIdentity else {
            throw StoreError(.invalidInput, "a node lease needs a store opened with a node identity")
        }
        self.queue = queue
        self.identity = identity
        self.logger = logger
        self.onTakeOver = onTakeOver
        self.onFenced = onFenced
        if let joinedAt { state = .live(renewedAt: joinedAt) }
    }

    /// How often the lease is renewed: a third of it.
    var interval: Duration { identity.lease / 3 }
    /// How long after the last renewal was sent this node stops acting on its own: a tenth of the
    /// lease short of it, so the database's expiry is never passed while the node still works.
    var deadline: Duration { identity.lease - identity.lease / 10 }

    /// Joins the cluster, then renews until cancelled (a clean stop) or fenced.
    public func run() async throws(StoreError) {
        var renewedAt: ContinuousClock.Instant
        switch state {
        case .joining:
            renewedAt = ContinuousClock.now
            try await queue.registerNode()
            state = .live(renewedAt: renewedAt)
            logger.notice(
                "joined the cluster", metadata: ["node": "\(identity.id)", "lease": "\(identity.lease)"])
        case .live(let at): renewedAt = at
        case .fenced: return
        }
        // Take-overs run beside the renewals, one at a time, after each renewal: however long a
        // take-over takes, the next renewal leaves on time.
        let (renewals, renewed) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in renewals { await self.takeOver() }
            }
            await renewUntilStopped(from: renewedAt, renewed: renewed)
            renewed.finish()
            group.cancelAll()
        }
    }

    /// Renews every third of the lease until cancelled, leaving or fenced; yields to `renewed`
    /// after each renewal. A renewal gets at most ``attemptLimit``, and one that failed is tried
    /// again after ``retryPause``, not a whole interval: a renewal hanging on a connection the
    /// network dropped is given up in time for two more, each on a fresh connection, before the
    /// node must fence itself.
    private func renewUntilStopped(
        from lastRenewal: ContinuousClock.Instant, renewed: AsyncStream<Void>.Continuation
    ) async {
        var renewedAt = lastRenewal
        var failed = false
        while !Task.isCancelled {
            let pause = failed ? retryPause : interval
            let wait = min(pause, max(.zero, deadline - (ContinuousClock.now - renewedAt)))
            try? await Task.sleep(for: wait)
            if Task.isCancelled || leaving { return }
            let sent = ContinuousClock.now
            switch await renew(within: min(attemptLimit, deadline - (sent - renewedAt))) {
            case .renewed(let took):
                if took > attemptLimit / 4 {
                    // A renewal nearing its limit is one a busier database would see given up.
                    logger.warning(
                        "a lease renewal was slow: the database may be overloaded",
                        metadata: ["node": "\(identity.id)", "took": "\(took)", "limit": "\(attemptLimit)"])
                }
                renewedAt = sent
                failed = false
                state = .live(renewedAt: sent)
                renewed.yield()
            case .refused(let why):
                return await fence(why)
            case .failed(let why):
                if ContinuousClock.now - renewedAt >= deadline {
                    return await fence("no lease renewal got through for \(deadline): \(why)")
                }
                failed = true
                logger.warning(
                    "could not renew the node's lease; trying again",
                    metadata: ["node": "\(identity.id)", "error": "\(why)"])
            }
        }
    }

    /// How long one renewal may take: half an interval. From a renewal that hangs to the fence
    /// there is room for three attempts with their pauses (1.7 intervals), the later ones on fresh
    /// connections. Under the chaos suite's cluster scenario (6 s lease: a limit of 1 s) renewals
    /// took 1.4 ms (median) to 21 ms, a fresh connection's included: the limit is far from them.
    var attemptLimit: Duration { interval / 2 }
    /// The pause before a renewal that failed is tried again: a tenth of an interval, at most a second.
    var retryPause: Duration { min(interval / 10, .seconds(1)) }

    private enum Renewal { case renewed(took: Duration), refused(String), failed(String) }

    /// One renewal, given up when it has not answered by the time this node must stop acting.
    private func renew(within limit: Duration) async -> Renewal {
        let queue = queue
        guard limit > .zero else { return .failed("the lease's time was up before the renewal was sent") }
        return await withTaskGroup(of: Renewal?.self) { group in
            group.addTask {
                do {
                    let began = ContinuousClock.now
                    try await queue.renewLease()
                    return .renewed(took: ContinuousClock.now - began)
                } catch let error as StoreError {
                    return error.code == .nodeFenced ? .refused(error.message) : .failed(error.message)
                } catch {
                    return .failed("\(error)")
                }
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return Task.isCancelled ? nil : .failed("the database did not answer within \(limit)")
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .failed("cancelled")
        }
    }

    private func takeOver() async {
        do {
            let jobs = try await queue.takeOverDeadNodes()
            guard !jobs.isEmpty else { return }
            takenOver += jobs.count
            logger.warning(
                "took over the work of nodes whose lease ran out",
                metadata: ["jobs": "\(jobs.count)", "node": "\(identity.id)"])
            await onTakeOver(jobs)
        } catch {
            // The renewal succeeded; another node (or the next round) does the take-over.
            logger.warning("could not take over dead nodes' work", metadata: ["error": "\(error)"])
        }
    }

    private func fence(_ reason: String) async {
        guard case .live = state, !leaving else { return }
        state = .fenced(reason: reason)
        logger.critical(
            "this node lost its lease: it stops acting on the queue",
            metadata: ["node": "\(identity.id)", "reason": "\(reason)"])
        await onFenced(reason)
    }

    /// Leaves the cluster cleanly (after the node's workers released their jobs).
    public func leave(reason: String) async {
        guard case .live = state else { return }
        leaving = true
        do {
            try await queue.stopNode(reason: reason)
        } catch {
            logger.warning("could not record the node's clean stop", metadata: ["error": "\(error)"])
        }
    }
}

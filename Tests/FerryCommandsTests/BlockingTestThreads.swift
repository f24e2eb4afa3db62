import Foundation
import Testing

/// Runs each test it marks on threads of its own instead of the cooperative pool, which on a
/// 2-core machine has two threads for every test's tasks. A test that waits on processes with
/// blocking calls (`waitUntilExit`, `usleep` polls, a blocking `recv`) would hold one of the two
/// for its whole run, and the tests beside it, their timers, polls and leases, then shared the
/// other: under the full suite a node's lease renewal or a pacer's connection missed its deadline.
///
/// The test runs with ``BlockingTestThreads/executor`` as its task executor preference, which its
/// child tasks (`async let`, task groups) inherit. The executor has several threads, so a test
/// that blocks one while a child task of its makes progress still works.
struct BlockingTestThreads: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        try await withTaskExecutorPreference(Self.executor) { try await function() }
    }

    /// Only each test case is moved: a suite has no body of its own to run.
    func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        testCase == nil ? nil : self
    }

    /// Shared by every marked test: they run one at a time (`.serialized`), so a few threads are plenty.
    static let executor = ThreadsExecutor(threads: 4)
}

extension Trait where Self == BlockingTestThreads {
    /// Runs the marked tests (and, on a suite, every test in it) off the cooperative pool.
    static var onBlockingTestThreads: Self { BlockingTestThreads() }
}

/// A task executor with threads of its own, taking jobs first come, first served. A test-support
/// piece below the level of actors: the threads wait on a condition variable for jobs.
final class ThreadsExecutor: TaskExecutor, @unchecked Sendable {
    private static let marker = "ferry.blocking-test-thread"

    /// Whether the calling code runs on one of these executors' threads.
    static var onOwnThread: Bool { Thread.current.threadDictionary[marker] as? Bool == true }

    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var jobs: [UnownedJob] = []

    init(threads: Int) {
        for _ in 0..<threads {
            // The executor lives as long as the test process: its threads hold it.
            Thread { self.work() }.start()
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func work() {
        Thread.current.threadDictionary[Self.marker] = true
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

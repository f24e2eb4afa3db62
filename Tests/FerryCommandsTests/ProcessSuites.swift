import Foundation
import Testing

/// The suites that start real `ferry` processes, nested here so they run one at a time, on
/// threads of their own (``BlockingTestThreads``). Their waits on processes block a thread, and
/// on a 2-core machine the cooperative pool that every other test's timers and polls run on has
/// two.
@Suite(.serialized, .onBlockingTestThreads)
enum ProcessSuites {}

extension ProcessSuites {
    @Suite("The process suites' own threads")
    struct OwnThreads {
        @Test("A process suite's test and its child tasks run off the cooperative pool")
        func offThePool() async throws {
            #expect(Self.onOwnThread())
            async let child = Self.onOwnThread()
            #expect(await child)
        }

        @Test("A sync test body, which may block, runs off the cooperative pool")
        func syncBody() {
            #expect(ThreadsExecutor.onOwnThread)
        }

        /// Read in a sync function: `Thread.current` is not for async code.
        static func onOwnThread() -> Bool { ThreadsExecutor.onOwnThread }
    }
}

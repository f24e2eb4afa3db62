import FerrySystemd
import FerryTesting
import Foundation
import Testing

@Suite("Talking to systemd", .serialized)
struct SystemdNotifierTests {
    @Test("Without NOTIFY_SOCKET every call is a no-op, so the same code runs in a terminal")
    func noOpOutsideSystemd() throws {
        let notifier = SystemdNotifier(environment: [:])
        #expect(!notifier.isEnabled)
        try notifier.notify(.ready, .status("anything"))
        #expect(try notifier.watchdogInterval() == nil)
    }

    @Test("Messages are encoded as the notify protocol wants them")
    func encoding() {
        #expect(SystemdNotifier.Message.ready.assignment == "READY=1")
        #expect(SystemdNotifier.Message.stopping.assignment == "STOPPING=1")
        #expect(SystemdNotifier.Message.watchdog.assignment == "WATCHDOG=1")
        #expect(SystemdNotifier.Message.status("two\nlines").assignment == "STATUS=two lines")
        #expect(SystemdNotifier.Message.extendTimeout(.milliseconds(2500)).assignment == "EXTEND_TIMEOUT_USEC=2500000")
        #expect(
            SystemdNotifier.Message.reloading(monotonicMicroseconds: 42).assignment == "RELOADING=1\nMONOTONIC_USEC=42")
        #expect(SystemdNotifier.Message.mainPID(7).assignment == "MAINPID=7")
    }

    @Test("With NOTIFY_SOCKET the messages arrive together in one datagram")
    func sendsToTheSocket() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-notify-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let socket = try NotifySocket(in: folder)
        // sd_notify reads NOTIFY_SOCKET from the process environment.
        setenv("NOTIFY_SOCKET", socket.path, 1)
        defer { unsetenv("NOTIFY_SOCKET") }
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.path])
        try notifier.notify(.ready, .status("ready: 0 queued"))
        #expect(socket.receive(timeout: 5) == "READY=1\nSTATUS=ready: 0 queued")
    }

    @Test("The watchdog interval is read from WATCHDOG_USEC for this process")
    func watchdogInterval() throws {
        setenv("NOTIFY_SOCKET", "/run/nonexistent", 1)
        setenv("WATCHDOG_USEC", "4000000", 1)
        setenv("WATCHDOG_PID", String(getpid()), 1)
        defer {
            unsetenv("NOTIFY_SOCKET")
            unsetenv("WATCHDOG_USEC")
            unsetenv("WATCHDOG_PID")
        }
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/run/nonexistent"])
        #expect(try notifier.watchdogInterval() == .seconds(4))
        setenv("WATCHDOG_PID", "1", 1)
        #expect(try notifier.watchdogInterval() == nil, "a watchdog meant for another process is not ours")
    }

    @Test("The monotonic clock reads in microseconds and moves forward")
    func monotonicClock() {
        let first = SystemdNotifier.monotonicMicroseconds()
        let second = SystemdNotifier.monotonicMicroseconds()
        #expect(first > 0)
        #expect(second >= first)
    }
}

import FerryCore
import Foundation

/// Writes protocol messages to standard output, one whole line at a time, in order.
actor MessageWriter {
    private(set) var isClosed = false

    /// Writes `message`; returns false once the supervisor has gone (the pipe is closed).
    @discardableResult
    func send(_ message: WorkerMessage) -> Bool {
        write(MessageCodec.encode(message))
    }

    /// Writes raw bytes (the fault injection uses it for garbage).
    @discardableResult
    func write(_ data: Data) -> Bool {
        guard !isClosed else { return false }
        var remaining = data[...]
        while !remaining.isEmpty {
            let written = remaining.withUnsafeBytes { Foundation.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                isClosed = true
                return false
            }
            remaining = remaining.dropFirst(written)
        }
        return true
    }
}

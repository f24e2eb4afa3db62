import Foundation

/// The lines of this process's standard input as an async sequence, read on a thread of their
/// own because a blocking `read(2)` must not hold a thread of Swift's cooperative pool.
enum StandardInputLines {
    /// The maximum length of one line; a longer one ends the stream with an error.
    static let maximumLineLength = 1 << 20

    static func stream() -> AsyncThrowingStream<[UInt8], any Error> {
        AsyncThrowingStream { continuation in
            let thread = Thread {
                var pending: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 64 * 1024)
                while true {
                    let count = read(STDIN_FILENO, &buffer, buffer.count)
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { break }
                    pending.append(contentsOf: buffer[0..<count])
                    while let newline = pending.firstIndex(of: 0x0A) {
                        continuation.yield(Array(pending[..<newline]))
                        pending.removeSubrange(...newline)
                    }
                    if pending.count > maximumLineLength {
                        continuation.finish(throwing: ProtocolErrorLine.tooLong)
                        return
                    }
                }
                continuation.finish()
            }
            thread.name = "ferry-stdin"
            thread.start()
        }
    }

    enum ProtocolErrorLine: Error {
        case tooLong
    }
}

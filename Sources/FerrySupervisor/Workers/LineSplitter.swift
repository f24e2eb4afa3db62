/// Cuts a byte stream into lines. A line longer than the limit is a protocol violation, not a
/// reason to buffer without end.
struct LineSplitter {
    let maximumLineLength: Int
    private var pending: [UInt8] = []

    init(maximumLineLength: Int) {
        self.maximumLineLength = maximumLineLength
    }

    /// Adds bytes and returns the complete lines they finish (without their newline).
    /// - Returns: nil when the unfinished line has grown past the limit.
    mutating func append(_ bytes: UnsafeRawBufferPointer) -> [[UInt8]]? {
        var lines: [[UInt8]] = []
        var start = 0
        for index in 0..<bytes.count where bytes[index] == 0x0A {
            pending.append(contentsOf: bytes[start..<index])
            lines.append(pending)
            pending.removeAll(keepingCapacity: true)
            start = index + 1
        }
        pending.append(contentsOf: bytes[start...])
        return pending.count > maximumLineLength ? nil : lines
    }
}

/// The last lines a worker wrote to its standard error, kept for its exit record.
struct StandardErrorTail {
    let capacity: Int
    private(set) var lines: [String] = []
    private var splitter = LineSplitter(maximumLineLength: 4096)

    init(capacity: Int) {
        self.capacity = capacity
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let complete = splitter.append(bytes) else {
            // A line without end: keep what we can show of it and start over.
            lines.append("[line too long]")
            splitter = LineSplitter(maximumLineLength: 4096)
            trim()
            return
        }
        lines += complete.map { String(decoding: $0, as: UTF8.self) }
        trim()
    }

    private mutating func trim() {
        if lines.count > capacity { lines.removeFirst(lines.count - capacity) }
    }

    var text: String? { lines.isEmpty ? nil : lines.joined(separator: "\n") }
}

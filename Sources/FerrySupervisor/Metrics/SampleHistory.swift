/// The most recent samples, up to a fixed number: appending to a full history drops the oldest, so
/// memory stays bounded however long the daemon runs.
struct SampleHistory<Element: Sendable>: Sendable {
    let capacity: Int
    private var storage: [Element] = []
    /// Where the oldest element sits once the storage is full and the ring wraps.
    private var oldest = 0

    init(capacity: Int) {
        precondition(capacity > 0, "a sample history must hold at least one sample")
        self.capacity = capacity
    }

    var count: Int { storage.count }

    /// Oldest first.
    var elements: [Element] { Array(storage[oldest...] + storage[..<oldest]) }

    var last: Element? {
        storage.isEmpty ? nil : storage[(oldest + storage.count - 1) % storage.count]
    }

    mutating func append(_ element: Element) {
        if storage.count < capacity {
            storage.append(element)
        } else {
            storage[oldest] = element
            oldest = (oldest + 1) % capacity
        }
    }
}

extension Array {
    /// The array cut into consecutive pieces of at most `size` elements, to keep the number of
    /// bound parameters of one statement far below SQLite's limit.
    func chunked(into size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}

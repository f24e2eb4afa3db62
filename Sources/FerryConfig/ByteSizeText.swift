import Foundation

/// Sizes as the configuration writes them: a whole number of bytes, or one with a binary unit
/// (`KiB`, `MiB`, `GiB`, `TiB`).
enum ByteSizeText {
    private static let units: [(suffix: String, shift: Int64)] = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)]

    static func parse(_ text: String) -> Int64? {
        let text = text.trimmingCharacters(in: .whitespaces)
        for unit in units where text.hasSuffix(unit.suffix) {
            let digits = text.dropLast(unit.suffix.count).trimmingCharacters(in: .whitespaces)
            guard let value = Int64(digits), value >= 0, value <= (Int64.max >> unit.shift) else { return nil }
            return value << unit.shift
        }
        guard let value = Int64(text), value >= 0 else { return nil }
        return value
    }

    /// The largest whole unit that writes `bytes` exactly.
    static func format(_ bytes: Int64) -> String {
        for unit in units where bytes > 0 && bytes % (1 << unit.shift) == 0 {
            return "\(bytes >> unit.shift)\(unit.suffix)"
        }
        return String(bytes)
    }
}

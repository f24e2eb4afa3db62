import FerryCore
import Foundation

/// Durations as the configuration writes them: `500ms`, `15s`, `2m`, `1h`, `1d`, or a sum such
/// as `1m30s`.
enum DurationText {
    private static let units: [(suffix: String, milliseconds: Int64)] = [
        ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000),
    ]

    /// Parses the text, or returns nil when it is not a duration.
    static func parse(_ text: String) -> Duration? {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        guard !rest.isEmpty else { return nil }
        var total: Int64 = 0
        while !rest.isEmpty {
            let digits = rest.prefix(while: \.isASCII).prefix(while: \.isNumber)
            guard !digits.isEmpty, let value = Int64(digits), value <= 1_000_000_000 else { return nil }
            rest = rest.dropFirst(digits.count)
            let unitText = rest.prefix(while: \.isLetter)
            guard let unit = units.first(where: { $0.suffix == unitText }) else { return nil }
            rest = rest.dropFirst(unitText.count)
            let (product, overflow) = value.multipliedReportingOverflow(by: unit.milliseconds)
            guard !overflow else { return nil }
            total += product
        }
        return .milliseconds(total)
    }

    /// The shortest text that parses back to `duration` (whole milliseconds).
    static func format(_ duration: Duration) -> String {
        var remaining = duration.inMilliseconds
        if remaining == 0 { return "0s" }
        var text = ""
        for unit in units.reversed() where remaining >= unit.milliseconds {
            let count = remaining / unit.milliseconds
            text += "\(count)\(unit.suffix)"
            remaining -= count * unit.milliseconds
        }
        return text
    }
}

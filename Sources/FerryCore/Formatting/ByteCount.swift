import Foundation

/// Sizes for people, as the CLI and the workers' messages print them.
public enum ByteCount {
    /// `1023 B`, `1.5 KiB`, `12.0 MiB`: the largest binary unit under 1024 of it.
    public static func describe(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }

    /// `52.4`: mebibytes with one decimal, for limits stated in MB (Telegram's).
    public static func mebibytes(_ bytes: Int64) -> String {
        String(format: "%.1f", Double(bytes) / 1_048_576)
    }
}

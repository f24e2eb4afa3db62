/// The version of this build of Ferry, reported by `ferry version`, the worker hello and health.
public enum FerryVersion {
    public static let current = "0.1.0"
    /// The version of the supervisor–worker message protocol.
    public static let protocolVersion = 3
}

import FerryCore

extension ConfigSetting {
    /// The `aria2.*` settings: the engine behind ftp, sftp and magnet downloads.
    static var aria2Settings: [ConfigSetting] {
        [
            .text(
                "aria2.program", \.downloads.aria2.program, expected: "a program name on PATH or a path",
                valid: { !$0.isEmpty && !$0.contains("\0") },
                "The aria2c program the download worker starts for ftp, sftp and magnet downloads."),
            .number(
                "aria2.seed_ratio", \.downloads.aria2.seedRatio, in: 0...100,
                "Upload ratio a finished torrent seeds up to after its job has succeeded (0: no ratio limit; with seed_time 0 too, no seeding)."
            ),
            .duration(
                "aria2.seed_time", \.downloads.aria2.seedTime, in: .zero...Duration.seconds(30 * 86_400),
                "Longest a finished torrent seeds after its job has succeeded (0s: no time limit when seed_ratio is set, else no seeding)."
            ),
            .choice(
                "aria2.dht", \.downloads.aria2.dhtText, among: ["false", "true"],
                "Let aria2 find torrent peers through the DHT (false: trackers and the magnet's peers only)."),
            .choice(
                "aria2.local_peer_discovery", \.downloads.aria2.localPeerDiscoveryText, among: ["false", "true"],
                "Let aria2 find torrent peers by multicast on the local network."),
            .duration(
                "aria2.reconcile_interval", \.downloads.aria2.reconcileInterval,
                in: .milliseconds(100)...Duration.seconds(600),
                "How often the download worker compares its jobs with aria2's tasks, repairs any difference and reports progress."
            ),
        ]
    }
}

extension Aria2Settings {
    var dhtText: String {
        get { dht ? "true" : "false" }
        set { dht = newValue == "true" }
    }

    var localPeerDiscoveryText: String {
        get { localPeerDiscovery ? "true" : "false" }
        set { localPeerDiscovery = newValue == "true" }
    }
}

import Foundation

/// One task as aria2 reports it (`tellStatus` and friends). aria2 sends every number as a string.
struct Aria2Task: Decodable, Sendable, Hashable {
    struct File: Decodable, Sendable, Hashable {
        var path: String
        var length: String
        var selected: String?
    }

    struct Torrent: Decodable, Sendable, Hashable {
        struct Info: Decodable, Sendable, Hashable {
            var name: String?
        }

        var info: Info?
    }

    var gid: String
    /// active, waiting, paused, error, complete or removed.
    var status: String
    var totalLength: String
    var completedLength: String
    var downloadSpeed: String?
    var connections: String?
    var numSeeders: String?
    /// "true" once a torrent is whole and aria2 seeds it.
    var seeder: String?
    var errorCode: String?
    var errorMessage: String?
    var infoHash: String?
    /// The torrent a magnet's metadata download turned into.
    var followedBy: [String]?
    /// The metadata download a torrent came from.
    var following: String?
    var belongsTo: String?
    var dir: String?
    var files: [File]?
    var bittorrent: Torrent?

    /// The keys the engine asks for, so aria2 sends no peer lists or bitfields.
    static let keys = [
        "gid", "status", "totalLength", "completedLength", "downloadSpeed", "connections", "numSeeders", "seeder",
        "errorCode",
        "errorMessage", "infoHash", "followedBy", "following", "belongsTo", "dir", "files", "bittorrent",
    ]

    var total: Int64 { Int64(totalLength) ?? 0 }
    var completed: Int64 { Int64(completedLength) ?? 0 }
    var isStopped: Bool { status == "complete" || status == "error" || status == "removed" }
    /// A whole torrent aria2 goes on seeding (`aria2.seed_ratio` / `aria2.seed_time`): its job is done.
    var isSeeding: Bool { status == "active" && seeder == "true" && !isMetadata && total > 0 && completed == total }
    /// Gone from aria2's point of view, or a finished metadata download, `.torrent` file or
    /// metalink whose follower is not there: either way the job's task must be added again.
    var isDeadEnd: Bool {
        status == "removed" || (status == "complete" && (isMetadata || !(followedBy ?? []).isEmpty))
    }
    /// Failed because another task already downloads the same torrent (error 12): that one is
    /// the job's.
    var isDuplicateTorrent: Bool { status == "error" && errorCode == "12" }
    /// A magnet's metadata download: aria2 marks its name and keeps it in memory.
    var isMetadata: Bool { files?.contains { $0.path.hasPrefix("[METADATA]") } ?? false }
}

/// What fetches a download. aria2 fetches what Ferry's own client cannot (ftp, sftp, magnet);
/// an http or https download goes to aria2 only when asked, e.g. for a URL of a `.torrent` file or
/// a metalink, which aria2 follows to the files they describe.
public enum DownloadEngine: String, Hashable, Sendable, Codable, CaseIterable {
    /// Ferry's own HTTP(S) client (resume by Range, hashing while streaming).
    case ferry
    /// The download worker's aria2c.
    case aria2
}

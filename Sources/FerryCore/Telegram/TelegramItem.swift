/// One piece of work in a message: a file kept by Telegram, or an http(s) link.
public struct TelegramItem: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        case document, video, audio, photo, animation, link
    }

    public var kind: Kind
    /// The Bot API's handle for fetching the file (media only).
    public var fileID: String?
    /// The same for every copy of the same file, whatever message carries it (media only).
    public var fileUniqueID: String?
    public var fileName: String?
    public var mimeType: String?
    public var fileSize: Int64?
    /// The link (links only).
    public var url: String?

    public init(
        kind: Kind, fileID: String? = nil, fileUniqueID: String? = nil, fileName: String? = nil,
        mimeType: String? = nil, fileSize: Int64? = nil, url: String? = nil
    ) {
        self.kind = kind
        self.fileID = fileID
        self.fileUniqueID = fileUniqueID
        self.fileName = fileName
        self.mimeType = mimeType
        self.fileSize = fileSize
        self.url = url
    }

    public static func link(_ url: String) -> TelegramItem { TelegramItem(kind: .link, url: url) }
}

/// What a download job fetches and what happens after.
public struct DownloadSpec: Hashable, Sendable, Codable {
    public var url: String
    /// The file name to keep it under; when nil the worker derives one from the response or URL.
    public var fileName: String?
    public var expectedSize: Int64?
    /// Lower-case hexadecimal SHA-256 the content must have.
    public var expectedSHA256: String?
    /// Names of configured upload targets; one upload job per target is created atomically when
    /// the download succeeds.
    public var uploadTargets: [String]
    /// Remove the local file once every upload has succeeded.
    public var deleteAfterUpload: Bool
    /// Who fetches it; nil: aria2 for ftp, sftp and magnet, Ferry's own client for http and https.
    public var engine: DownloadEngine?

    public init(
        url: String, fileName: String? = nil, expectedSize: Int64? = nil, expectedSHA256: String? = nil,
        uploadTargets: [String] = [], deleteAfterUpload: Bool = false, engine: DownloadEngine? = nil
    ) {
        self.engine = engine
        self.url = url
        self.fileName = fileName
        self.expectedSize = expectedSize
        self.expectedSHA256 = expectedSHA256
        self.uploadTargets = uploadTargets
        self.deleteAfterUpload = deleteAfterUpload
    }
}

/// One delivery of a downloaded file to one target.
public struct UploadSpec: Hashable, Sendable, Codable {
    public var downloadID: JobID
    public var target: String
    /// Where the downloaded file is (the download's result), so the worker needs no second look-up.
    public var sourcePath: String
    public var sourceSize: Int64
    public var sourceSHA256: String

    public init(downloadID: JobID, target: String, sourcePath: String, sourceSize: Int64, sourceSHA256: String) {
        self.downloadID = downloadID
        self.target = target
        self.sourcePath = sourcePath
        self.sourceSize = sourceSize
        self.sourceSHA256 = sourceSHA256
    }
}

/// A generated video to be kept permanently.
public struct VideoSpec: Hashable, Sendable, Codable {
    public var userID: String
    /// The caller's id for the generation request; with the user it names the video uniquely.
    public var externalRequestID: String
    /// The temporary URL the video can be fetched from.
    public var sourceURL: String
    /// Free-form JSON the caller attached.
    public var metadata: String?

    public init(userID: String, externalRequestID: String, sourceURL: String, metadata: String? = nil) {
        self.userID = userID
        self.externalRequestID = externalRequestID
        self.sourceURL = sourceURL
        self.metadata = metadata
    }
}

/// What a worker needs to run a job, by kind.
public enum JobPayload: Hashable, Sendable, Codable {
    case download(DownloadSpec)
    case upload(UploadSpec)
    case video(VideoSpec)

    public var kind: JobKind {
        switch self {
        case .download: .download
        case .upload: .upload
        case .video: .video
        }
    }
}

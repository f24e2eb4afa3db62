/// A place finished downloads are delivered to, declared in the configuration under `targets`
/// and named on a download.
public struct UploadTarget: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        /// A mounted folder: written under a temporary name, fsynced, renamed, verified.
        case dir
        /// S3-compatible object storage (AWS, MinIO, …): SigV4, single PUT or multipart.
        case s3
        /// Any rclone remote (OneDrive, Google Drive, SFTP, …), through the `rclone` program.
        case rclone
        /// A Telegram chat, through a configured bot (`sendDocument`, `sendVideo`, `sendAudio`).
        case telegram
    }

    /// The name downloads use (`upload_targets`): letters, digits, `-` and `_`, at most 64.
    public var name: String
    public var kind: Kind
    /// The folder of a `dir` target; it must exist (an unmounted mount point must not fill up).
    public var path: String = ""
    /// S3: where and how to connect.
    public var s3: S3? = nil
    /// rclone: the remote and how to run rclone.
    public var rclone: Rclone? = nil
    /// telegram: the bot, the chat and how the file is sent.
    public var telegram: Telegram? = nil

    public struct Telegram: Hashable, Sendable, Codable {
        /// How the file is sent: the Bot API method and its file field.
        public enum SendAs: String, Hashable, Sendable, Codable, CaseIterable {
            case document, video, audio
        }

        /// The name of a configured bot (`telegram.bots.<name>`) that sends the file.
        public var bot: String
        public var chatID: Int64
        public var sendAs: SendAs = .document
        /// The caption; `{file_name}`, `{size}`, `{download_id}` and `{sha256}` are filled in.
        public var caption: String = "{file_name}"

        public init(bot: String, chatID: Int64) {
            self.bot = bot
            self.chatID = chatID
        }
    }

    public struct Rclone: Hashable, Sendable, Codable {
        /// `remote:path` uploads go under (`<remote>/<download id>/<file name>`).
        public var remote: String
        /// The rclone program (a name looked up on PATH, or a path).
        public var program: String = "rclone"
        /// rclone's configuration file; empty: rclone's own default (or RCLONE_CONFIG_* variables).
        public var configFile: String = ""

        public init(remote: String) {
            self.remote = remote
        }
    }

    public struct S3: Hashable, Sendable, Codable {
        /// The service's base URL, e.g. `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:9000`.
        public var endpoint: String
        public var bucket: String
        public var region: String = "us-east-1"
        /// Prepended to every object key (`<prefix><download id>/<file name>`).
        public var prefix: String = ""
        public var accessKeyID: String
        /// A file holding the secret access key (read when an upload starts; never on a command line).
        public var secretKeyFile: String
        /// Files at least this big go up in parts.
        public var multipartThreshold: Int64 = 64 << 20
        /// The size of each part (S3 requires at least 5 MiB but for the last).
        public var partSize: Int64 = 16 << 20
        /// Parts in flight at once (each holds one part in memory).
        public var parallelParts: Int = 4

        public init(endpoint: String, bucket: String, accessKeyID: String, secretKeyFile: String) {
            self.endpoint = endpoint
            self.bucket = bucket
            self.accessKeyID = accessKeyID
            self.secretKeyFile = secretKeyFile
        }
    }

    public init(
        name: String, kind: Kind, path: String = "", s3: S3? = nil, rclone: Rclone? = nil, telegram: Telegram? = nil
    ) {
        self.name = name
        self.kind = kind
        self.path = path
        self.s3 = s3
        self.rclone = rclone
        self.telegram = telegram
    }

    /// Whether `name` can name a target.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.unicodeScalars.allSatisfy {
                ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "-" || $0 == "_"
            }
    }
}

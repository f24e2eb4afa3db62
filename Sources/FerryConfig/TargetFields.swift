import FerryCore
import Foundation

/// The fields of one upload target (`targets.<name>`), by type, and how they are checked.
enum TargetFields {
    /// The fields each type takes, required ones first.
    static let fields: [UploadTarget.Kind: (required: [String], optional: [String])] = [
        .dir: (["path"], []),
        .s3: (
            ["endpoint", "bucket", "access_key_id", "secret_key_file"],
            ["region", "prefix", "multipart_threshold", "part_size", "parallel_parts"]
        ),
        .rclone: (["remote"], ["program", "config_file"]),
        .telegram: (["bot", "chat_id"], ["as", "caption"]),
    ]

    /// Everything wrong with one target.
    struct Problems: Error {
        var list: [Problem]
    }

    /// A problem with one field: its name, and what was expected.
    struct Problem {
        var field: String
        var value: String?
        var expected: String
    }

    /// Builds the target from its text fields, or says what is wrong with each.
    static func build(
        name: String, kind: UploadTarget.Kind, values: [String: String]
    ) -> Result<UploadTarget, Problems> {
        let (required, optional) = fields[kind]!
        var problems: [Problem] = []
        for field in values.keys.sorted() where field != "type" && !(required + optional).contains(field) {
            problems.append(
                Problem(
                    field: field, value: nil,
                    expected: "unknown key; a \(kind) target has \((required + optional).joined(separator: ", "))"))
        }
        for field in required where values[field] == nil {
            problems.append(Problem(field: field, value: nil, expected: "is missing"))
        }
        guard problems.isEmpty else { return .failure(Problems(list: problems)) }
        switch kind {
        case .dir:
            let path = values["path"]!
            guard isAbsolutePath(path) else {
                return .failure(
                    Problems(list: [Problem(field: "path", value: path, expected: "expected an absolute folder path")]))
            }
            return .success(UploadTarget(name: name, kind: .dir, path: path))
        case .s3:
            var s3 = UploadTarget.S3(
                endpoint: values["endpoint"]!, bucket: values["bucket"]!, accessKeyID: values["access_key_id"]!,
                secretKeyFile: values["secret_key_file"]!)
            let endpoint = URLComponents(string: s3.endpoint)
            if !["http", "https"].contains(endpoint?.scheme ?? ""), endpoint?.host?.isEmpty != false {
                problems.append(
                    Problem(
                        field: "endpoint", value: s3.endpoint, expected: "expected an http or https URL with a host"))
            }
            if !(3...63).contains(s3.bucket.count)
                || !s3.bucket.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == ".") })
            {
                problems.append(
                    Problem(
                        field: "bucket", value: s3.bucket,
                        expected: "expected an S3 bucket name: 3 to 63 lower-case letters, digits, dots and hyphens"))
            }
            if s3.accessKeyID.isEmpty {
                problems.append(Problem(field: "access_key_id", value: "", expected: "expected the access key id"))
            }
            if !isAbsolutePath(s3.secretKeyFile) {
                problems.append(
                    Problem(
                        field: "secret_key_file", value: s3.secretKeyFile,
                        expected: "expected the absolute path of a file holding the secret key"))
            }
            if let region = values["region"] { s3.region = region }
            if let prefix = values["prefix"] { s3.prefix = prefix }
            if let text = values["multipart_threshold"] {
                if let size = ByteSizeText.parse(text), size >= 5 << 20 {
                    s3.multipartThreshold = size
                } else {
                    problems.append(
                        Problem(field: "multipart_threshold", value: text, expected: "expected a size of at least 5MiB")
                    )
                }
            }
            if let text = values["part_size"] {
                if let size = ByteSizeText.parse(text), (5 << 20)...(5 << 30) ~= size {
                    s3.partSize = size
                } else {
                    problems.append(
                        Problem(field: "part_size", value: text, expected: "expected a size from 5MiB to 5GiB"))
                }
            }
            if let text = values["parallel_parts"] {
                if let count = Int(text), (1...32).contains(count) {
                    s3.parallelParts = count
                } else {
                    problems.append(
                        Problem(field: "parallel_parts", value: text, expected: "expected a whole number from 1 to 32"))
                }
            }
            guard problems.isEmpty else { return .failure(Problems(list: problems)) }
            return .success(UploadTarget(name: name, kind: .s3, s3: s3))
        case .rclone:
            var rclone = UploadTarget.Rclone(remote: values["remote"]!)
            if !rclone.remote.contains(":") || rclone.remote.hasPrefix(":") && rclone.remote.count < 2 {
                problems.append(
                    Problem(
                        field: "remote", value: rclone.remote, expected: "expected remote:path, e.g. onedrive:media"))
            }
            if let program = values["program"] {
                rclone.program = program
                if program.isEmpty || program.contains("\0") {
                    problems.append(
                        Problem(field: "program", value: program, expected: "expected rclone's path or name"))
                }
            }
            if let file = values["config_file"] {
                rclone.configFile = file
                if !isAbsolutePath(file) {
                    problems.append(
                        Problem(field: "config_file", value: file, expected: "expected an absolute file path"))
                }
            }
            guard problems.isEmpty else { return .failure(Problems(list: problems)) }
            return .success(UploadTarget(name: name, kind: .rclone, rclone: rclone))
        case .telegram:
            return TelegramBotFields.target(name: name, values: values)
        }
    }

    static func isAbsolutePath(_ path: String) -> Bool {
        path.hasPrefix("/") && !path.contains("\0")
    }

    /// The target's fields as the documented file writes them.
    static func render(_ target: UploadTarget) -> [String] {
        var lines = ["  \(target.name):", "    type: \(target.kind.rawValue)"]
        switch target.kind {
        case .dir:
            lines.append("    path: \"\(target.path)\"")
        case .s3:
            guard let s3 = target.s3 else { break }
            lines += [
                "    endpoint: \"\(s3.endpoint)\"", "    bucket: \"\(s3.bucket)\"", "    region: \"\(s3.region)\"",
                "    prefix: \"\(s3.prefix)\"", "    access_key_id: \"\(s3.accessKeyID)\"",
                "    secret_key_file: \"\(s3.secretKeyFile)\"",
                "    multipart_threshold: \(ByteSizeText.format(s3.multipartThreshold))",
                "    part_size: \(ByteSizeText.format(s3.partSize))",
                "    parallel_parts: \(s3.parallelParts)",
            ]
        case .rclone:
            guard let rclone = target.rclone else { break }
            lines += [
                "    remote: \"\(rclone.remote)\"", "    program: \"\(rclone.program)\"",
                "    config_file: \"\(rclone.configFile)\"",
            ]
        case .telegram:
            guard let telegram = target.telegram else { break }
            lines += [
                "    bot: \(telegram.bot)", "    chat_id: \(telegram.chatID)", "    as: \(telegram.sendAs.rawValue)",
                "    caption: \"\(telegram.caption.replacingOccurrences(of: "\"", with: "\\\""))\"",
            ]
        }
        return lines
    }
}

import FerryCore
import Foundation
import PostgresNIO

/// Each kind's details as columns beside a job's, so that a claim returns jobs and payloads from
/// one statement, and reads decode them the same way. `source` is the job rows' alias; a job
/// missing its details (only raw SQL can make one) decodes as an error, never as a dropped row.
enum PayloadColumns {
    /// The join and the columns that bring a kind's details to rows of `jobs` aliased `source`.
    static func join(_ kind: JobKind, to source: String) -> (columns: String, join: String) {
        switch kind {
        case .download:
            (
                "d.url, d.file_name, d.expected_size, d.expected_sha256, d.delete_after_upload, d.upload_targets, d.engine",
                "LEFT JOIN downloads d ON d.job_id = \(source).id"
            )
        case .upload:
            (
                "u.download_id, u.target, dj.result_location, dj.result_size, dj.result_sha256",
                "LEFT JOIN uploads u ON u.job_id = \(source).id LEFT JOIN jobs dj ON dj.id = u.download_id"
            )
        case .video:
            (
                "v.user_id, v.external_request_id, v.source_url, v.metadata",
                "LEFT JOIN videos v ON v.job_id = \(source).id"
            )
        }
    }

    /// Decodes the details of `kind` from the columns of ``join(_:to:)`` starting at `offset`.
    static func decode(_ kind: JobKind, _ row: PostgresRandomAccessRow, at offset: Int) throws -> JobPayload {
        switch kind {
        case .download:
            let targetsJSON = try row.value(offset + 5, as: String.self)
            let targets =
                targetsJSON == "[]" ? [] : try JSONDecoder().decode([String].self, from: Data(targetsJSON.utf8))
            return .download(
                DownloadSpec(
                    url: try row.value(offset), fileName: try row.value(offset + 1),
                    expectedSize: try row.value(offset + 2), expectedSHA256: try row.value(offset + 3),
                    uploadTargets: targets, deleteAfterUpload: try row.value(offset + 4),
                    engine: try row.value(offset + 6, as: String?.self).flatMap(DownloadEngine.init(rawValue:))))
        case .upload:
            return .upload(
                UploadSpec(
                    downloadID: JobID(try row.value(offset, as: Int64.self)), target: try row.value(offset + 1),
                    sourcePath: try row.value(offset + 2, as: String?.self) ?? "",
                    sourceSize: try row.value(offset + 3, as: Int64?.self) ?? 0,
                    sourceSHA256: try row.value(offset + 4, as: String?.self) ?? ""))
        case .video:
            return .video(
                VideoSpec(
                    userID: try row.value(offset), externalRequestID: try row.value(offset + 1),
                    sourceURL: try row.value(offset + 2), metadata: try row.value(offset + 3)))
        }
    }
}

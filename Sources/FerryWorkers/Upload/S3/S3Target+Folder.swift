import FerryCore

extension S3Target {
    /// A folder result (a torrent of several files): each file becomes an object under
    /// `<prefix><objectName>/`, delivered as a single file is (looked for first, written under its
    /// condition, verified by size and SHA-256), so a retry sends only the files not there yet.
    /// The job's resume state is the multipart upload of the file in progress; it is handed to
    /// that file alone. The result is the folder's prefix, with the folder's size and manifest
    /// SHA-256, as on the other targets that hold folders.
    func deliverFolder(
        _ spec: UploadSpec, as objectName: String, resumeState: String?,
        report: @escaping @Sendable (JobProgress, String?) async -> Void
    ) async throws(JobFailure) -> JobResult {
        let manifest = try FolderManifest.of(spec)
        let inProgress = ResumeState(json: resumeState)?.key
        var done: Int64 = 0
        for entry in manifest.entries {
            let name = "\(objectName)/\(entry.path)"
            let file = UploadSpec(
                downloadID: spec.downloadID, target: spec.target, sourcePath: "\(spec.sourcePath)/\(entry.path)",
                sourceSize: entry.size, sourceSHA256: entry.sha256)
            let before = done
            _ = try await deliver(
                file, as: name, resumeState: inProgress == settings.prefix + name ? resumeState : nil
            ) { progress, state in
                await report(JobProgress(bytesDone: before + progress.bytesDone, bytesTotal: manifest.size), state)
            }
            done += entry.size
        }
        return JobResult(
            location: "s3://\(settings.bucket)/\(settings.prefix)\(objectName)/", size: manifest.size,
            sha256: manifest.sha256)
    }
}

import AsyncHTTPClient
import Crypto
import FerryCore
import Foundation
import NIOCore
import NIOHTTP1

/// An `s3` target: a single PUT below the multipart threshold, else a multipart upload whose id
/// and finished parts are kept in the job's resume state, so a retry sends only the missing
/// parts. Every request signs its payload's SHA-256 (the server checks each part); the object
/// carries the file's SHA-256 as metadata, and the result is verified with a HEAD. The key is
/// fixed per download and target, so a second delivery replaces, never duplicates. Every write is
/// conditional on what the HEAD before it saw (see ``WriteCondition``), so a write that an attempt
/// sent before it died, arriving after another attempt delivered, cannot write the object again.
struct S3Target {
    let settings: UploadTarget.S3
    let client: HTTPClient
    /// The servers this process found without conditional writes (one per worker process).
    var conditions = S3ConditionSupport()
    /// Attempts per part within one job attempt.
    var partAttempts = 3
    /// Parts per page of the server's part listing (nil: the server's default, 1,000); tests make
    /// it small to see every page read.
    var listPageSize: Int? = nil

    struct ResumeState: JSONResumeState {
        var key: String
        var uploadID: String
        var partSize: Int64
        var parts: [Part] = []

        struct Part: Codable {
            var number: Int
            var etag: String
        }

        init(key: String, uploadID: String, partSize: Int64) {
            self.key = key
            self.uploadID = uploadID
            self.partSize = partSize
        }
    }

    func deliver(
        _ spec: UploadSpec, as objectName: String, resumeState: String?,
        report: @escaping @Sendable (JobProgress, String?) async -> Void
    ) async throws(JobFailure) -> JobResult {
        let s3 = try connection()
        let key = settings.prefix + objectName
        let location = "s3://\(settings.bucket)/\(key)"
        do {
            let existing = try await s3.head(key: key)
            if let existing, existing.holds(size: spec.sourceSize, sha256: spec.sourceSHA256) {
                // Delivered before (a retry after a lost report): nothing to send.
                if let stale = ResumeState(json: resumeState) { try? await abort(stale, s3) }
                if spec.sourceSize >= settings.multipartThreshold { await abortStrays(of: key, s3) }
                return JobResult(location: location, size: spec.sourceSize, sha256: spec.sourceSHA256)
            }
            let condition = WriteCondition(existing)
            var lostCondition = false
            do {
                if spec.sourceSize < settings.multipartThreshold {
                    try await putWhole(spec, key: key, condition, s3)
                } else {
                    try await putInParts(spec, key: key, condition, resumeState: resumeState, s3, report: report)
                }
            } catch let failure as S3Client.Failure where failure.isConditionLost {
                // Someone wrote the key between the HEAD and this write: an earlier attempt of this
                // job (its request still on the way when it was taken over) if it holds the file.
                lostCondition = true
            }
            guard let stored = try await s3.head(key: key),
                stored.holds(size: spec.sourceSize, sha256: spec.sourceSHA256)
            else {
                if lostCondition {
                    throw JobFailure.retryable(
                        "s3_write_conflict",
                        "the object \(location) changed while this upload was writing it (another writer has the "
                            + "same key); the next attempt looks at it again")
                }
                throw JobFailure.retryable(
                    "verification_failed",
                    "the object \(location) does not have the file's size and SHA-256 after the upload")
            }
            if spec.sourceSize >= settings.multipartThreshold { await abortStrays(of: key, s3) }
            await report(JobProgress(bytesDone: spec.sourceSize, bytesTotal: spec.sourceSize), nil)
            return JobResult(location: location, size: spec.sourceSize, sha256: spec.sourceSHA256)
        } catch let failure as JobFailure {
            throw failure
        } catch let failure as S3Client.Failure {
            throw failure.jobFailure
        } catch is CancellationError {
            throw .retryable("cancelled", "the upload was stopped")
        } catch {
            throw TransferErrors.classify(error, host: URL(string: settings.endpoint)?.host ?? settings.endpoint)
        }
    }

    /// Aborts a multipart upload a job left behind (its resume state), and any other upload of its
    /// key still open (a CreateMultipartUpload whose answer was lost, which no resume state names);
    /// answers what became of the named one: "aborted", "already_gone", or "failed: <why>".
    func abortAbandoned(resumeState: String) async -> String {
        guard let state = ResumeState(json: resumeState) else {
            return "failed: the resume state is not an S3 upload's"
        }
        let s3: S3Client
        do {
            s3 = try connection()
        } catch {
            return "failed: \(error.message)"
        }
        let outcome: String
        do {
            try await abort(state, s3)
            outcome = "aborted"
        } catch let failure as S3Client.Failure where failure.isNoSuchUpload {
            outcome = "already_gone"
        } catch let failure as S3Client.Failure {
            return "failed: \(failure.jobFailure.message)"
        } catch {
            return "failed: \(error)"
        }
        await abortStrays(of: state.key, s3)
        return outcome
    }

    /// A signed client for this target, or a permanent failure when its secret cannot be read.
    func connection() throws(JobFailure) -> S3Client {
        let secret: String
        do {
            secret = try String(contentsOfFile: settings.secretKeyFile, encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw .permanent(
                "target_misconfigured",
                "cannot read the secret key file \(settings.secretKeyFile): \(error.localizedDescription)")
        }
        return S3Client(
            settings: settings,
            signer: SigV4(accessKeyID: settings.accessKeyID, secretKey: secret, region: settings.region), client: client
        )
    }

    private func putWhole(_ spec: UploadSpec, key: String, _ condition: WriteCondition, _ s3: S3Client) async throws {
        let data = try readPart(spec.sourcePath, offset: 0, length: spec.sourceSize)
        let sha = FileHashing.hex(SHA256.hash(data: data))
        guard sha == spec.sourceSHA256 else { throw sourceChanged(spec) }
        try await write(
            .PUT, key: key, headers: [("x-amz-meta-sha256", spec.sourceSHA256)], condition, body: data, sha256: sha, s3)
    }

    private func putInParts(
        _ spec: UploadSpec, key: String, _ condition: WriteCondition, resumeState: String?, _ s3: S3Client,
        report: @escaping @Sendable (JobProgress, String?) async -> Void
    ) async throws {
        var state: ResumeState
        if let resumed = ResumeState(json: resumeState), resumed.key == key, resumed.partSize == settings.partSize,
            let stillThere = try await partsStillThere(resumed, s3)
        {
            state = stillThere
        } else {
            if let other = ResumeState(json: resumeState) { try? await abort(other, s3) }
            state = try await begin(key: key, spec, s3)
            await report(JobProgress(bytesDone: 0, bytesTotal: spec.sourceSize), state.json)
        }
        // At most one fresh start: a multipart upload the server dropped (expired) begins again.
        for restart in 0..<2 {
            do {
                try await sendParts(spec, &state, s3, report: report)
                let body =
                    "<CompleteMultipartUpload>"
                    + state.parts.sorted { $0.number < $1.number }.map {
                        "<Part><PartNumber>\($0.number)</PartNumber><ETag>\($0.etag)</ETag></Part>"
                    }.joined() + "</CompleteMultipartUpload>"
                let data = Data(body.utf8)
                try await write(
                    .POST, key: key, query: "uploadId=\(SigV4.encodeSegment(state.uploadID))", condition, body: data,
                    sha256: FileHashing.hex(SHA256.hash(data: data)), s3)
                return
            } catch let failure as S3Client.Failure where failure.isNoSuchUpload && restart == 0 {
                state = try await begin(key: key, spec, s3)
                await report(JobProgress(bytesDone: 0, bytesTotal: spec.sourceSize), state.json)
            } catch let failure as JobFailure where failure.code == "source_changed" {
                try? await abort(state, s3)
                throw failure
            } catch let failure as S3Client.Failure where !failure.jobFailure.isRetryable {
                // A stop cut a part short, and the server refused what arrived: the upload itself
                // is sound and the next attempt resumes it, so it is not aborted.
                if !Task.isCancelled { try? await abort(state, s3) }
                throw failure
            }
        }
        throw JobFailure.retryable("s3_upload_lost", "the server dropped the multipart upload twice")
    }

    /// The resumed upload with only the parts the server still has, or nil when the server no
    /// longer knows the upload (expired or aborted: it starts again). The listing comes in pages
    /// of at most 1,000 parts; every page is read.
    func partsStillThere(_ resumed: ResumeState, _ s3: S3Client) async throws -> ResumeState? {
        var listed = Set<Int>()
        var marker: String?
        repeat {
            let listing: S3Client.Answer
            do {
                listing = try await s3.send(
                    .GET, key: resumed.key,
                    query: "uploadId=\(SigV4.encodeSegment(resumed.uploadID))"
                        + (listPageSize.map { "&max-parts=\($0)" } ?? "")
                        + (marker.map { "&part-number-marker=\($0)" } ?? ""))
            } catch let failure as S3Client.Failure where failure.isNoSuchUpload {
                return nil
            }
            var rest = Substring(listing.body)
            while let start = rest.range(of: "<PartNumber>"),
                let end = rest.range(of: "</PartNumber>", range: start.upperBound..<rest.endIndex)
            {
                if let number = Int(rest[start.upperBound..<end.lowerBound]) { listed.insert(number) }
                rest = rest[end.upperBound...]
            }
            let truncated = S3Client.element("IsTruncated", in: listing.body) == "true"
            let next = S3Client.element("NextPartNumberMarker", in: listing.body)
            // A server that says "more" without saying where from (or the same place again) would
            // loop for ever: the unlisted parts are sent again instead.
            marker = truncated && next != nil && next != marker ? next : nil
        } while marker != nil
        var state = resumed
        state.parts = resumed.parts.filter { listed.contains($0.number) }
        return state
    }

    private func begin(key: String, _ spec: UploadSpec, _ s3: S3Client) async throws -> ResumeState {
        let answer = try await s3.send(
            .POST, key: key, query: "uploads=", headers: [("x-amz-meta-sha256", spec.sourceSHA256)])
        guard let id = S3Client.element("UploadId", in: answer.body), !id.isEmpty else {
            throw JobFailure.retryable("s3_bad_answer", "the server started a multipart upload without an UploadId")
        }
        return ResumeState(key: key, uploadID: id, partSize: settings.partSize)
    }

    /// Reads the parts in order (hashing the whole file on the way) and sends those not sent yet,
    /// `parallel_parts` at a time, each retried a few times on its own; reports the resume state
    /// as each part lands, so a retry skips every part the server has.
    private func sendParts(
        _ spec: UploadSpec, _ state: inout ResumeState, _ s3: S3Client,
        report: @escaping @Sendable (JobProgress, String?) async -> Void
    ) async throws {
        var whole = SHA256()
        let count = Int((spec.sourceSize + state.partSize - 1) / state.partSize)
        let alreadySent = Set(state.parts.map(\.number))
        let (key, uploadID, partSize) = (state.key, state.uploadID, state.partSize)
        try await withThrowingTaskGroup(of: ResumeState.Part.self) { group in
            var inFlight = 0
            func land(_ part: ResumeState.Part) async {
                inFlight -= 1
                state.parts.append(part)
                let done = min(Int64(state.parts.count) * partSize, spec.sourceSize)
                await report(JobProgress(bytesDone: done, bytesTotal: spec.sourceSize), state.json)
            }
            for number in 1...count {
                try Task.checkCancellation()
                let offset = Int64(number - 1) * partSize
                let data = try readPart(
                    spec.sourcePath, offset: offset, length: min(partSize, spec.sourceSize - offset))
                whole.update(data: data)
                if alreadySent.contains(number) { continue }
                if inFlight >= max(1, settings.parallelParts), let part = try await group.next() { await land(part) }
                group.addTask { try await sendPart(number, data, key: key, uploadID: uploadID, s3) }
                inFlight += 1
            }
            while let part = try await group.next() { await land(part) }
        }
        guard FileHashing.hex(whole.finalize()) == spec.sourceSHA256 else { throw sourceChanged(spec) }
    }

    /// One part, with its payload's SHA-256 signed (the server checks it), retried on its own.
    private func sendPart(
        _ number: Int, _ data: Data, key: String, uploadID: String, _ s3: S3Client
    ) async throws -> ResumeState.Part {
        let sha = FileHashing.hex(SHA256.hash(data: data))
        var tries = 0
        while true {
            tries += 1
            do {
                let answer = try await s3.send(
                    .PUT, key: key, query: "partNumber=\(number)&uploadId=\(SigV4.encodeSegment(uploadID))",
                    body: ByteBuffer(bytes: data), sha256: sha)
                return .init(number: number, etag: answer.headers.first(name: "ETag") ?? "")
            } catch let failure as S3Client.Failure where failure.jobFailure.isRetryable && tries < partAttempts {
                try await Task.sleep(for: .milliseconds(200 * tries))
            }
        }
    }

    /// Aborts every multipart upload of `key` the server still has in progress, once the object
    /// is delivered. A CreateMultipartUpload whose answer was lost (the server began the upload,
    /// the answer never came) leaves one that no resume state names, which the server would keep
    /// for ever; the key is this upload job's alone, so any upload still open there is such a
    /// stray. Best effort: a failure here leaves the stray, never fails the delivered upload.
    func abortStrays(of key: String, _ s3: S3Client) async {
        guard
            let listing = try? await s3.send(
                .GET, key: "", query: "uploads=&prefix=\(SigV4.encodeSegment(key))")
        else { return }
        var rest = Substring(listing.body)
        while let start = rest.range(of: "<Upload>"),
            let end = rest.range(of: "</Upload>", range: start.upperBound..<rest.endIndex)
        {
            let upload = String(rest[start.upperBound..<end.lowerBound])
            rest = rest[end.upperBound...]
            guard S3Client.element("Key", in: upload).map(S3Client.unescapeXML) == key,
                let id = S3Client.element("UploadId", in: upload).map(S3Client.unescapeXML)
            else { continue }
            _ = try? await s3.send(.DELETE, key: key, query: "uploadId=\(SigV4.encodeSegment(id))")
        }
    }

    /// A write of the object (a PUT, or the CompleteMultipartUpload that makes it) under
    /// `condition`; sent again without it when the server refuses the request itself (501 Not
    /// Implemented, or 400), as S3-compatible servers without conditional writes may: the write
    /// then goes through as it did before conditions (a request that was bad anyway fails again),
    /// and later writes to that server skip the condition (``S3ConditionSupport``).
    private func write(
        _ method: HTTPMethod, key: String, query: String? = nil, headers: [(String, String)] = [],
        _ condition: WriteCondition, body: Data, sha256: String, _ s3: S3Client
    ) async throws {
        // A stopped attempt makes no object: the next attempt resumes from its parts.
        try Task.checkCancellation()
        let server = "\(settings.endpoint)/\(settings.bucket)"
        guard !condition.headers.isEmpty, await conditions.takesConditions(server) else {
            try await s3.send(
                method, key: key, query: query, headers: headers, body: ByteBuffer(bytes: body), sha256: sha256)
            return
        }
        do {
            try await s3.send(
                method, key: key, query: query, headers: headers + condition.headers, body: ByteBuffer(bytes: body),
                sha256: sha256)
        } catch let failure as S3Client.Failure where failure.status == 501 || failure.status == 400 {
            try await s3.send(
                method, key: key, query: query, headers: headers, body: ByteBuffer(bytes: body), sha256: sha256)
            // Only now is it the condition the server refused (a request bad anyway failed again).
            await conditions.refusesConditions(server)
        }
    }

    private func abort(_ state: ResumeState, _ s3: S3Client) async throws {
        try await s3.send(.DELETE, key: state.key, query: "uploadId=\(SigV4.encodeSegment(state.uploadID))")
    }

    private func readPart(_ path: String, offset: Int64, length: Int64) throws -> Data {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw JobFailure.permanent("source_missing", "the downloaded file \(path) is gone; retry the download")
        }
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        let data = try handle.read(upToCount: Int(length)) ?? Data()
        guard data.count == Int(length) else { throw sourceChangedError(path) }
        return data
    }

    private func sourceChanged(_ spec: UploadSpec) -> JobFailure {
        sourceChangedError(spec.sourcePath)
    }

    private func sourceChangedError(_ path: String) -> JobFailure {
        .permanent(
            "source_changed",
            "the downloaded file \(path) no longer has the size and SHA-256 recorded for it; run `ferry repair`")
    }
}

/// What a write requires of the object at its key: none there yet (`If-None-Match: *`), or the
/// very object the HEAD before it saw, which it replaces (`If-Match: <ETag>`). A request sent by
/// an attempt that died, or was frozen past its lease, reaches the server after another attempt
/// delivered: the condition refuses it (412) instead of writing the object a second time (which an
/// event notification or a versioned bucket would see as a new object).
struct WriteCondition {
    let headers: [(String, String)]

    init(_ existing: S3Client.Object?) {
        if let existing {
            headers = existing.etag.map { [("If-Match", $0)] } ?? []
        } else {
            headers = [("If-None-Match", "*")]
        }
    }
}

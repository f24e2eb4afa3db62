import AsyncHTTPClient
import FerryCore
import FerryTesting
import Foundation
import Testing

@testable import FerryWorkers

/// Uploads through the real `rclone` program to a local remote.
@Suite("Uploads through rclone", .serialized)
struct RcloneUploadTests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-rclone-\(UUID())")
        try FileManager.default.createDirectory(
            at: folder.appendingPathComponent("remote"), withIntermediateDirectories: true)
        try Data("[box]\ntype = local\n".utf8).write(to: folder.appendingPathComponent("rclone.conf"))
    }

    func executor(remote: String, program: String = "rclone") -> UploadExecutor {
        var rclone = UploadTarget.Rclone(remote: remote)
        rclone.program = program
        rclone.configFile = folder.appendingPathComponent("rclone.conf").path
        return UploadExecutor(targets: [UploadTarget(name: "drive", kind: .rclone, rclone: rclone)], client: .shared)
    }

    func upload(_ executor: UploadExecutor, _ spec: UploadSpec) async -> Result<JobResult, JobFailure> {
        let assignment = SupervisorMessage.Assignment(
            lease: JobLease(jobID: JobID(5), owner: WorkerID("w"), attempt: 1), payload: .upload(spec))
        do {
            return .success(try await executor.execute(assignment) { _, _ in })
        } catch {
            return .failure(error)
        }
    }

    func source(size: Int) throws -> UploadSpec {
        let file = folder.appendingPathComponent("movie.bin")
        try TestOrigin.content(size: size).write(to: file)
        return UploadSpec(
            downloadID: JobID(3), target: "drive", sourcePath: file.path, sourceSize: Int64(size),
            sourceSHA256: try TestOrigin.sha256(ofFile: file.path))
    }

    @Test(
        "rclone delivers a folder result as one folder under its name, every file checked by the listing; a stray file in an earlier copy is removed"
    )
    func copiesFolder() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let remote = "box:" + folder.appendingPathComponent("remote").path
        let spec = try UploadAndStoreTests.folderResult(in: folder, downloadID: 3, target: "drive")
        let stray = folder.appendingPathComponent("remote/3/album/stray.bin")
        try FileManager.default.createDirectory(
            at: stray.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("not the download's".utf8).write(to: stray)
        let result = try await upload(executor(remote: remote), spec).get()
        #expect(result.location == "\(remote)/3/album")
        #expect(result.size == spec.sourceSize && result.sha256 == spec.sourceSHA256)
        let copy = folder.appendingPathComponent("remote/3/album").path
        #expect(try FolderManifest.of(copy) == (try FolderManifest.of(spec.sourcePath)))
        #expect(!FileManager.default.fileExists(atPath: stray.path))
        _ = try await upload(executor(remote: remote), spec).get()
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("remote/3").path) == [
                "album"
            ])
    }

    @Test("rclone copies the file byte for byte, verified by its listing; a second delivery leaves one file")
    func copies() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let remote = "box:" + folder.appendingPathComponent("remote").path
        let spec = try source(size: 2_500_000)
        let result = try await upload(executor(remote: remote), spec).get()
        #expect(result.location == "\(remote)/3/movie.bin")
        let copy = folder.appendingPathComponent("remote/3/movie.bin")
        #expect(try TestOrigin.sha256(ofFile: copy.path) == spec.sourceSHA256)
        _ = try await upload(executor(remote: remote), spec).get()
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("remote/3").path) == [
                "movie.bin"
            ])
    }

    @Test(
        "An rclone SIGKILLed mid-copy leaves nothing at the final name (the copy goes to a hidden name, then is moved); the next attempt delivers"
    )
    func killedMidCopy() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let remote = "box:" + folder.appendingPathComponent("remote").path
        let spec = try source(size: 4_000_000)
        // The real rclone, slowed to 1 MB/s, SIGKILLed once its copy has begun to arrive.
        let killer = try Self.script(
            in: folder, "rclone-killed",
            """
            #!/bin/sh
            [ "$1" = copyto ] || exec rclone "$@"
            rclone --bwlimit 1M "$@" &
            tries=0
            while [ ! -s "${3#box:}" ] && [ $tries -lt 400 ]; do sleep 0.05; tries=$((tries + 1)); done
            kill -9 $!
            exit 137

            """)
        guard case .failure(let failure) = await upload(executor(remote: remote, program: killer.path), spec) else {
            Issue.record("a killed copy succeeded")
            return
        }
        #expect(failure.code == "rclone_137" && failure.isRetryable)
        let landing = folder.appendingPathComponent("remote/3")
        #expect(try FileManager.default.contentsOfDirectory(atPath: landing.path) == [".movie.bin.ferry-partial"])
        _ = try await upload(executor(remote: remote), spec).get()
        #expect(try FileManager.default.contentsOfDirectory(atPath: landing.path) == ["movie.bin"])
        #expect(try TestOrigin.sha256(ofFile: landing.appendingPathComponent("movie.bin").path) == spec.sourceSHA256)
        #expect(RcloneTarget.temporaryName(of: "3/movie.bin") == "3/.movie.bin.ferry-partial")
        #expect(RcloneTarget.temporaryName(of: "movie.bin") == ".movie.bin.ferry-partial")
    }

    @Test(
        "A move cut short between its copy and its delete (a move is both on S3) leaves the hidden copy beside the object; the next attempt finds the object and removes the hidden copy"
    )
    func killedMidMove() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let remote = "box:" + folder.appendingPathComponent("remote").path
        let spec = try source(size: 1_000_000)
        // The real rclone, except that its move copies and is then SIGKILLed before it deletes.
        let killer = try Self.script(
            in: folder, "rclone-move-killed",
            """
            #!/bin/sh
            [ "$1" = moveto ] || exec rclone "$@"
            shift
            rclone copyto "$@" || exit 1
            exit 137

            """)
        guard case .failure(let failure) = await upload(executor(remote: remote, program: killer.path), spec) else {
            Issue.record("a killed move succeeded")
            return
        }
        #expect(failure.code == "rclone_137")
        let landing = folder.appendingPathComponent("remote/3")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: landing.path).sorted() == [
                ".movie.bin.ferry-partial", "movie.bin",
            ])
        _ = try await upload(executor(remote: remote), spec).get()
        #expect(try FileManager.default.contentsOfDirectory(atPath: landing.path) == ["movie.bin"])
    }

    /// An executable shell script `name` in `folder`: an rclone that misbehaves on purpose.
    static func script(in folder: URL, _ name: String, _ text: String) throws -> URL {
        let file = folder.appendingPathComponent(name)
        try Data(text.utf8).write(to: file)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file.path)
        return file
    }

    @Test(
        "A missing rclone or an unknown remote fails for good; other exit statuses, and status 1 with retryable stats, are retryable"
    )
    func failures() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let spec = try source(size: 1000)
        if case .failure(let failure) = await upload(executor(remote: "box:/x", program: "/nonexistent/rclone"), spec) {
            #expect(failure.code == "rclone_missing" && !failure.isRetryable)
        } else {
            Issue.record("ran a program that does not exist")
        }
        if case .failure(let failure) = await upload(executor(remote: "nosuchremote:/x"), spec) {
            #expect(!failure.isRetryable, "\(failure)")
        } else {
            Issue.record("uploaded to a remote that is not configured")
        }
        #expect(RcloneTarget.failure(status: 5, log: "temporary").isRetryable)
        #expect(RcloneTarget.failure(status: 6, log: "").isRetryable)
        #expect(!RcloneTarget.failure(status: 7, log: "fatal").isRetryable)
        // Status 1 is rclone's default for an error it did not class: an S3 500 on the last try
        // exits 1 with stats marking it retryable (as rclone 1.60 printed it in a chaos run).
        let serverError =
            #"{"level":"warning","msg":"Errors: 1 (retrying may help)","stats":{"errors":1,"fatalError":false,"#
            + #""retryError":true,"lastError":"InternalError: status code: 500"}}"#
        #expect(RcloneTarget.failure(status: 1, log: #"{"level":"error"}"# + "\n" + serverError + "\n").isRetryable)
        let fatal = #"{"stats":{"errors":1,"fatalError":true,"retryError":true}}"#
        #expect(!RcloneTarget.failure(status: 1, log: fatal).isRetryable)
        let usage = "Usage:\n  rclone copyto source:path dest:path [flags]"
        #expect(!RcloneTarget.failure(status: 1, log: usage).isRetryable)
    }
}

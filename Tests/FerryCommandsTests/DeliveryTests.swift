import FerryCore
import FerryStore
import FerryTesting
import Foundation
import Testing

extension ProcessSuites {
    /// Work that follows a download, through the real supervisor and its workers.
    @Suite("Deliveries and video storage under the supervisor", .serialized)
    struct DeliveryTests {
        @Test(
            "A download with two dir targets is delivered byte for byte to both; then its local file goes and the uploads are cleaned"
        )
        func downloadThenUploads() async throws {
            let origin = try TestOrigin()
            let targets = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-targets-\(UUID())")
            defer { try? FileManager.default.removeItem(at: targets) }
            for name in ["a", "b"] {
                try FileManager.default.createDirectory(
                    at: targets.appendingPathComponent(name), withIntermediateDirectories: true)
            }
            let config = targets.appendingPathComponent("ferry.yaml")
            try Data(
                """
                targets:
                  first:
                    type: dir
                    path: \(targets.path)/a
                  second:
                    type: dir
                    path: \(targets.path)/b
                """.utf8
            ).write(to: config)
            let harness = try SupervisorHarness(
                environment: SupervisorProcessTests.fast.merging(["FERRY_CONFIG": config.path]) { $1 })
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let store = try SupervisorJobTests().writableStore(harness)
            let size = 700_000
            let sha = try TestOrigin.sha256(size: size)
            let spec = DownloadSpec(
                url: origin.url(size: size), fileName: "movie.mkv", expectedSHA256: sha,
                uploadTargets: ["first", "second"], deleteAfterUpload: true)
            let id = try await store.enqueue(download: DownloadRequest(spec: spec)).job.id
            let download = try await SupervisorJobTests().waitForJob(store, id) { $0.state.phase.isFinal }
            #expect(download.state == .succeeded)
            let deadline = Date().addingTimeInterval(30)
            var uploads = try await store.uploads(of: id)
            while Date() < deadline && !(uploads.count == 2 && uploads.allSatisfy { $0.state == .cleaned }) {
                try await Task.sleep(for: .milliseconds(50))
                uploads = try await store.uploads(of: id)
            }
            #expect(uploads.map(\.state) == [.cleaned, .cleaned], "\(uploads.map { $0.lastError?.message ?? "" })")
            #expect(uploads.allSatisfy { $0.cleanedAt != nil })
            for name in ["a", "b"] {
                let copy = "\(targets.path)/\(name)/\(id)/movie.mkv"
                #expect(try TestOrigin.sha256(ofFile: copy) == sha)
                #expect(
                    try FileManager.default.contentsOfDirectory(atPath: "\(targets.path)/\(name)/\(id)") == [
                        "movie.mkv"
                    ])
            }
            let local = try #require(download.result?.location)
            #expect(!FileManager.default.fileExists(atPath: local), "the delivered local file was removed")
            #expect(harness.stop() == 0)
        }

        @Test("A generated video is fetched, verified and kept in the content-addressed store")
        func videoStored() async throws {
            let origin = try TestOrigin()
            let harness = try SupervisorHarness(environment: SupervisorProcessTests.fast)
            try #require(harness.waitForNotification(containing: "READY=1") != nil)
            let store = try SupervisorJobTests().writableStore(harness)
            let size = 500_000
            let sha = try TestOrigin.sha256(size: size)
            let request = VideoRequest(
                spec: VideoSpec(userID: "u1", externalRequestID: "gen-1", sourceURL: origin.url(size: size)))
            let id = try await store.enqueue(video: request).job.id
            let job = try await SupervisorJobTests().waitForJob(store, id) { $0.state.phase.isFinal }
            #expect(job.state == .stored, "\(job.lastError?.message ?? "")")
            let result = try #require(job.result)
            #expect(result.sha256 == sha && result.size == Int64(size))
            #expect(result.contentType == "application/octet-stream")
            #expect(result.location.contains("/ferry-state/videos/"))
            #expect(try TestOrigin.sha256(ofFile: result.location) == sha)
            #expect(harness.stop() == 0)
        }
    }
}

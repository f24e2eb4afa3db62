import AsyncHTTPClient
import FerryCore
import FerryTesting
import Foundation
import Testing

@testable import FerryWorkers

/// An object is written once however attempts of its upload race: each write is conditional on
/// what the HEAD before it saw. Counted on a real server (moto) with versioning on, where every
/// write of a key is kept as a version. Found by the chaos suite's cluster scenario: a SIGKILLed
/// node's PUT, held by a slow server, landed after the node that took the upload over delivered.
extension S3UploadTests {
    @Test("Attempts racing to deliver one small file write its object once, and each succeeds")
    func racingPutsWriteOnce() async throws {
        try server.enableVersioning(of: bucket)
        let executor = UploadExecutor(targets: [target()], client: HTTPClient.shared)
        let spec = try source(size: 1 << 20, downloadID: 20)
        let results = await withTaskGroup(of: Result<JobResult, JobFailure>.self) { group in
            for number in 1...6 { group.addTask { await attempt(executor, spec, number: number).result } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        for result in results { #expect(try result.get().sha256 == spec.sourceSHA256) }
        #expect(try server.versions(of: "ferry/20/clip-1048576.bin", in: bucket) == 1)
    }

    @Test("A multipart upload whose key another attempt delivered meanwhile leaves that object as it is")
    func multipartFindsKeyDelivered() async throws {
        try server.enableVersioning(of: bucket)
        let executor = UploadExecutor(targets: [target(threshold: 5 << 20)], client: HTTPClient.shared)
        let spec = try source(size: 12 << 20, downloadID: 21)
        let overtaken = Overtaken()
        let assignment = SupervisorMessage.Assignment(
            lease: JobLease(jobID: JobID(100), owner: WorkerID("w"), attempt: 1), payload: .upload(spec),
            resumeState: nil)
        // Once its first part is sent, a second attempt delivers the whole object; the first then
        // completes its own upload under `If-None-Match: *`, is refused, and finds the file there.
        let first = try await executor.execute(assignment) { _, resume in
            guard let resume, let state = S3Target.ResumeState(json: resume), !state.parts.isEmpty,
                await overtaken.claim()
            else { return }
            await overtaken.record(await attempt(executor, spec, number: 2).result)
        }
        #expect(first.sha256 == spec.sourceSHA256)
        #expect(try #require(await overtaken.result).get() == first)
        #expect(try server.versions(of: "ferry/21/clip-12582912.bin", in: bucket) == 1)
        let (objects, unfinished) = try server.contents(of: bucket)
        #expect(objects.first?.sha256 == spec.sourceSHA256)
        #expect(unfinished == 0, "the refused upload is aborted")
    }

    @Test("An object of other content at the key is replaced once (If-Match on the ETag the HEAD saw)")
    func otherObjectReplacedOnce() async throws {
        try server.enableVersioning(of: bucket)
        try server.put("someone else's bytes", at: "ferry/22/clip-1000.bin", in: bucket)
        let executor = UploadExecutor(targets: [target()], client: HTTPClient.shared)
        let spec = try source(size: 1000, downloadID: 22)
        #expect(try await attempt(executor, spec, number: 1).result.get().sha256 == spec.sourceSHA256)
        #expect(try server.versions(of: "ferry/22/clip-1000.bin", in: bucket) == 2)
        #expect(try server.contents(of: bucket).objects.first?.sha256 == spec.sourceSHA256)
    }

    @Test(
        "A server without conditional writes (501 to the condition) gets the write without it, and the process sends its later writes without one"
    )
    func serverWithoutConditions() async throws {
        let proxy = try S3UnconditionalProxy(before: server)
        var settings = try #require(target(threshold: 5 << 20).s3)
        settings.endpoint = proxy.endpoint
        let targets = [UploadTarget(name: "archive", kind: .s3, s3: settings)]
        let executor = UploadExecutor(targets: targets, client: HTTPClient.shared)
        let small = try source(size: 1000, downloadID: 23)
        let big = try source(size: 6 << 20, downloadID: 24)
        let other = try source(size: 2000, downloadID: 25)
        #expect(try await attempt(executor, small, number: 1).result.get().sha256 == small.sourceSHA256)
        #expect(try await attempt(executor, big, number: 1).result.get().sha256 == big.sourceSHA256)
        #expect(try await proxy.refusals() == 1, "the first PUT was refused; the process then wrote without conditions")
        // Another worker process finds it out for itself, once.
        let second = UploadExecutor(targets: targets, client: HTTPClient.shared)
        #expect(try await attempt(second, other, number: 1).result.get().sha256 == other.sourceSHA256)
        #expect(try await proxy.refusals() == 2)
        let (objects, unfinished) = try server.contents(of: bucket)
        #expect(
            objects.map(\.sha256).sorted() == [small.sourceSHA256, big.sourceSHA256, other.sourceSHA256].sorted())
        #expect(unfinished == 0)
    }
}

/// The second attempt of ``S3UploadTests/multipartFindsKeyDelivered()``: started once, its result kept.
private actor Overtaken {
    private var started = false
    private(set) var result: Result<JobResult, JobFailure>?

    func claim() -> Bool {
        defer { started = true }
        return !started
    }

    func record(_ result: Result<JobResult, JobFailure>) { self.result = result }
}

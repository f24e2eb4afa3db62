import FerryCore
import Testing

@testable import FerryWorkers

/// The reconciliation's decision for one job from one listing of aria2's tasks, without aria2.
@Suite("Reconciling a job with aria2's tasks")
struct Aria2ReconciliationTests {
    let hash = "3ce274b8d7a5585d8cb7aecfd445f368872b180f"

    var order: Aria2Order {
        Aria2Order(
            jobID: JobID(42), uri: "magnet:?xt=urn:btih:\(hash)", folder: "/state/spool/job-42-aria2", fileName: nil,
            infoHash: hash, maxSize: 1_000_000)
    }

    func task(
        _ gid: String, _ status: String, total: Int64 = 500_000, done: Int64 = 0, infoHash: String? = nil,
        followedBy: [String]? = nil, files: [String] = ["/state/spool/job-42-aria2/movie.bin"], errorCode: String? = nil
    ) -> Aria2Task {
        Aria2Task(
            gid: gid, status: status, totalLength: String(total), completedLength: String(done), errorCode: errorCode,
            infoHash: infoHash, followedBy: followedBy,
            files: files.map { Aria2Task.File(path: $0, length: String(total), selected: "true") })
    }

    @Test("The GID is the job's id in 16 hexadecimal digits")
    func gidFromJob() {
        #expect(order.gid == "000000000000002a")
        #expect(order.options["gid"] == "000000000000002a")
    }

    @Test(
        "A whole torrent aria2 seeds ends the job only when seeding is configured; otherwise its job waits for complete"
    )
    func seedingEndsTheJob() {
        var link = Aria2Reconciliation.Link(infoHash: hash)
        var seeding = task(order.gid, "active", done: 500_000, infoHash: hash)
        seeding.seeder = "true"
        #expect(seeding.isSeeding)
        #expect(Aria2Reconciliation.decide(order, link: &link, tasks: [seeding]) == .progress(seeding))
        var seeds = order
        seeds.seeds = true
        #expect(Aria2Reconciliation.decide(seeds, link: &link, tasks: [seeding]) == .finish(seeding))
        var checking = seeding
        checking.completedLength = "400000"
        #expect(Aria2Reconciliation.decide(seeds, link: &link, tasks: [checking]) == .progress(checking))
    }

    @Test("A task aria2 does not have is added; a removed one is added again after its result is dropped")
    func lostTaskIsAdded() {
        var link = Aria2Reconciliation.Link(infoHash: hash)
        #expect(Aria2Reconciliation.decide(order, link: &link, tasks: []) == .add(dropStaleResult: false))
        let removed = task(order.gid, "removed")
        #expect(Aria2Reconciliation.decide(order, link: &link, tasks: [removed]) == .add(dropStaleResult: true))
    }

    @Test("A magnet's finished metadata download is followed to its torrent, which the job then reports")
    func metadataFollowed() {
        var link = Aria2Reconciliation.Link(infoHash: hash)
        let metadata = task(
            order.gid, "complete", total: 300, infoHash: hash, followedBy: ["00000000000000aa"],
            files: ["[METADATA]movie.bin"])
        let torrent = task("00000000000000aa", "active", done: 100_000, infoHash: hash)
        #expect(Aria2Reconciliation.decide(order, link: &link, tasks: [metadata, torrent]) == .progress(torrent))
        #expect(link.followed == "00000000000000aa")
    }

    @Test("A finished metadata download whose torrent is gone is added again")
    func metadataWithoutTorrent() {
        var link = Aria2Reconciliation.Link(infoHash: hash)
        let metadata = task(
            order.gid, "complete", total: 300, infoHash: hash, followedBy: ["00000000000000aa"],
            files: ["[METADATA]movie.bin"])
        #expect(Aria2Reconciliation.decide(order, link: &link, tasks: [metadata]) == .add(dropStaleResult: true))
    }

    @Test("After aria2 restarted from its session, the torrent is found by info hash under the GID aria2 chose")
    func relinkedByInfoHash() {
        var link = Aria2Reconciliation.Link(followed: "00000000000000aa", infoHash: hash)
        let restored = task("00000000000000bb", "active", done: 200_000, infoHash: hash)
        #expect(Aria2Reconciliation.decide(order, link: &link, tasks: [restored]) == .progress(restored))
        #expect(link.followed == "00000000000000bb")
        // Our own re-add failing as a duplicate of that torrent (error 12) changes nothing.
        let duplicate = task(order.gid, "error", infoHash: hash, errorCode: "12")
        #expect(Aria2Reconciliation.decide(order, link: &link, tasks: [duplicate, restored]) == .progress(restored))
    }

    @Test("Another job's torrent with the same info hash is not taken: this job's task is added (again)")
    func sameTorrentOtherJob() {
        var link = Aria2Reconciliation.Link(infoHash: hash)
        var other = task("00000000000000cc", "active", done: 200_000, infoHash: hash)
        other.dir = "/state/spool/job-7-aria2"
        #expect(Aria2Reconciliation.decide(order, link: &link, tasks: [other]) == .add(dropStaleResult: false))
        #expect(!order.owns(other, followed: nil, infoHash: hash))
    }

    /// The failure an action fails the attempt with, if it does.
    func failure(_ action: Aria2Reconciliation.Action) -> JobFailure? {
        if case .fail(let failure) = action { return failure }
        return nil
    }

    @Test("A finished torrent is handed back; a failed one fails the attempt as aria2's error says")
    func endings() {
        var link = Aria2Reconciliation.Link(infoHash: hash)
        let done = task(order.gid, "complete", done: 500_000, infoHash: hash)
        #expect(Aria2Reconciliation.decide(order, link: &link, tasks: [done]) == .finish(done))
        let missing = failure(
            Aria2Reconciliation.decide(order, link: &link, tasks: [task(order.gid, "error", errorCode: "3")]))
        #expect(missing?.code == "not_found" && missing?.isRetryable == false)
        let network = failure(
            Aria2Reconciliation.decide(order, link: &link, tasks: [task(order.gid, "error", errorCode: "6")]))
        #expect(network?.isRetryable == true)
    }

    @Test("A total over downloads.max_size or a file outside the job's folder fails for good")
    func limits() {
        var link = Aria2Reconciliation.Link(infoHash: hash)
        let huge = task(order.gid, "active", total: 2_000_000, infoHash: hash)
        let tooLarge = failure(Aria2Reconciliation.decide(order, link: &link, tasks: [huge]))
        #expect(tooLarge?.code == "too_large" && tooLarge?.isRetryable == false)
        let escaping = task(order.gid, "active", infoHash: hash, files: ["/state/spool/job-42-aria2/../escaped.bin"])
        let unsafe = failure(Aria2Reconciliation.decide(order, link: &link, tasks: [escaping]))
        #expect(unsafe?.code == "unsafe_path" && unsafe?.isRetryable == false)
    }

    @Test("Magnet links: hex and base32 info hashes are read; anything else is refused")
    func magnets() throws {
        #expect(try Magnet.infoHash(of: "magnet:?xt=urn:btih:\(hash.uppercased())&dn=x") == hash)
        #expect(try Magnet.infoHash(of: "magnet:?xt=urn:btih:HTRHJOGXUVMF3DFXV3H5IRPTNCDSWGAP") == hash)
        #expect(throws: JobFailure.self) { try Magnet.infoHash(of: "magnet:?xt=urn:btih:1234") }
        #expect(throws: JobFailure.self) { try Magnet.infoHash(of: "magnet:?dn=nothing") }
    }
}

import FerryConfig
import FerryCore
import Foundation
import Testing

/// Upload targets: names of the user's choosing under `targets`, each checked like any setting.
@Suite("Upload targets in the configuration")
struct ConfigTargetsTests {
    @Test("Dir and s3 targets are read with their settings, and shown back by the documented file")
    func readsTargets() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let path = try fixture.write(
            "targets:\n  backup:\n    type: dir\n    path: /mnt/backup\n"
                + Self.s3("bucket: media\n    part_size: 8MiB\n    parallel_parts: 6")
                .replacingOccurrences(of: "targets:\n", with: ""))
        let loaded = try fixture.loader().load(file: path)
        var s3 = UploadTarget.S3(
            endpoint: "http://127.0.0.1:9000", bucket: "media", accessKeyID: "k", secretKeyFile: "/etc/ferry/secret")
        s3.partSize = 8 << 20
        s3.parallelParts = 6
        #expect(
            loaded.configuration.targets == [
                UploadTarget(name: "backup", kind: .dir, path: "/mnt/backup"),
                UploadTarget(name: "c", kind: .s3, s3: s3),
            ])
        #expect(loaded.configuration.workerSettings.targets.count == 2)
        let rendered = ConfigDocument.render(loaded.configuration)
        #expect(rendered.contains("targets:\n  backup:\n    type: dir\n    path: \"/mnt/backup\""))
        let again = try fixture.write(rendered, name: "again.yaml")
        #expect(try fixture.loader().load(file: again).configuration.targets == loaded.configuration.targets)
    }

    /// An s3 target with everything but `rest`.
    static func s3(_ rest: String) -> String {
        "targets:\n  c:\n    type: s3\n    endpoint: http://127.0.0.1:9000\n    access_key_id: k\n"
            + "    secret_key_file: /etc/ferry/secret\n    \(rest)\n"
    }

    @Test(
        "Every mistake in a target is named with its key and what was expected",
        arguments: [
            (
                "targets:\n  cloud:\n    type: ftp\n    path: /x\n", "targets.cloud.type",
                "expected one of dir, s3, rclone"
            ),
            ("targets:\n  d:\n    type: rclone\n    remote: nocolon\n", "targets.d.remote", "expected remote:path"),
            (Self.s3("bucket: Bad_Bucket"), "targets.c.bucket", "S3 bucket name"),
            (Self.s3("bucket: media\n    part_size: 1MiB"), "targets.c.part_size", "from 5MiB to 5GiB"),
            (Self.s3("bucket: media\n    parallel_parts: 0"), "targets.c.parallel_parts", "from 1 to 32"),
            (Self.s3("bucket: media\n    path: /x"), "targets.c.path", "unknown key; a s3 target has"),
            ("targets:\n  b:\n    type: dir\n", "targets.b.path", "is missing"),
            ("targets:\n  b:\n    type: dir\n    path: relative/dir\n", "targets.b.path", "absolute folder path"),
            ("targets:\n  b:\n    path: /x\n", "targets.b.type", "is missing"),
            ("targets:\n  b:\n    type: dir\n    path: /x\n    colour: red\n", "targets.b.colour", "unknown key"),
            (
                "targets:\n  \"bad name\":\n    type: dir\n    path: /x\n", "targets.bad name",
                "not a usable target name"
            ),
            ("targets: [a, b]\n", "targets", "expected a mapping"),
        ])
    func refusesMistakes(text: String, key: String, problem: String) throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let issue = try fixture.issue(text)
        #expect(issue.key == key)
        #expect(issue.description.contains(problem), "\(issue.description)")
    }
}

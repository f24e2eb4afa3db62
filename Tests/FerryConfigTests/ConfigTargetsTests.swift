import FerryConfig
import FerryCore
import Foundation
import Testing

/// Upload targets: names of the user's choosing under `targets`, each checked like any setting.
@Suite("Upload targets in the configuration")
struct ConfigTargetsTests {
    @Test("A dir target is read with its name and folder, and shown back by the documented file")
    func readsTargets() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let path = try fixture.write("targets:\n  backup:\n    type: dir\n    path: /mnt/backup\n")
        let loaded = try fixture.loader().load(file: path)
        #expect(loaded.configuration.targets == [UploadTarget(name: "backup", kind: .dir, path: "/mnt/backup")])
        #expect(loaded.configuration.workerSettings.targets.count == 1)
        let rendered = ConfigDocument.render(loaded.configuration)
        #expect(rendered.contains("targets:\n  backup:\n    type: dir\n    path: \"/mnt/backup\""))
        let again = try fixture.write(rendered, name: "again.yaml")
        #expect(try fixture.loader().load(file: again).configuration.targets == loaded.configuration.targets)
    }

    @Test(
        "Every mistake in a target is named with its key and what was expected",
        arguments: [
            ("targets:\n  cloud:\n    type: s3\n    path: /x\n", "targets.cloud.type", "not available in this version"),
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

import FerryConfig
import Foundation
import Testing

/// Every way a configuration can be wrong gets an error naming the file, line, key, value and
/// what was expected.
@Suite("Configuration errors")
struct ConfigErrorTests {
    @Test("An unknown key is named with its line and the closest known key")
    func unknownKey() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let issue = try fixture.issue("supervisor:\n  heartbeat_intervl: 15s\n")
        #expect(issue.source.hasSuffix("ferry.yaml"))
        #expect(issue.line == 2)
        #expect(issue.key == "supervisor.heartbeat_intervl")
        #expect(issue.description.contains("unknown key; did you mean \"supervisor.heartbeat_interval\"?"))
        let section = try fixture.issue("superviser:\n  heartbeat_interval: 15s\n")
        #expect(section.description.contains("did you mean \"supervisor\"?"))
        let far = try fixture.issue("colour: blue\n")
        #expect(far.description.hasSuffix("colour: unknown key"))
    }

    @Test("A value of the wrong type is refused with what was expected")
    func wrongTypes() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let list = try fixture.issue("http:\n  port: [8080]\n")
        #expect(list.key == "http.port")
        #expect(list.description.contains("expected a whole number from 0 to 65535, not a list or mapping"))
        let quoted = try fixture.issue("http:\n  port: \"8080\"\n")
        #expect(quoted.value == "8080")
        #expect(quoted.description.contains("is quoted text; expected a whole number from 0 to 65535, unquoted"))
        let word = try fixture.issue("workers:\n  upload:\n    concurrency: many\n")
        #expect(word.line == 3)
        #expect(
            word.description.contains("workers.upload.concurrency = \"many\": expected a whole number from 1 to 256"))
        let section = try fixture.issue("supervisor: 15s\n")
        #expect(section.key == "supervisor")
        #expect(section.description.contains("expected a mapping of settings"))
        let topLevel = try fixture.issue("- just\n- a list\n")
        #expect(topLevel.key == "(top level)")
        let nothing = try fixture.issue("database:\n  synchronous:\n")
        #expect(
            nothing.description.contains(
                "database.synchronous = \"\": has no value; expected one of normal, full, extra"))
    }

    @Test("A value out of range names the range")
    func outOfRange() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let processes = try fixture.issue("workers:\n  download:\n    processes: -1\n")
        #expect(
            processes.description.hasSuffix("workers.download.processes = \"-1\": expected a whole number from 0 to 64")
        )
        let heartbeat = try fixture.issue("supervisor:\n  heartbeat_interval: 2h\n")
        #expect(heartbeat.description.contains("expected a duration such as 500ms, 15s, 2m or 1h, from 100ms to 10m"))
        let badDuration = try fixture.issue("supervisor:\n  heartbeat_interval: 15 seconds\n")
        #expect(badDuration.value == "15 seconds")
        let synchronous = try fixture.issue("database:\n  synchronous: off\n")
        #expect(synchronous.description.contains("database.synchronous = \"off\": expected one of normal, full, extra"))
        let video = try fixture.issue("retry:\n  video:\n    max_attempts: 2\n")
        #expect(video.description.contains("retry.video.max_attempts = \"2\": expected a whole number from 4 to 1000"))
        let address = try fixture.issue("http:\n  address: localhost:80\n")
        #expect(address.description.contains("expected an IPv4 or IPv6 address"))
    }

    @Test("Rules across settings: hang timeout, retry delays, a public listener without a token")
    func crossSettingRules() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let hang = try fixture.issue("supervisor:\n  heartbeat_interval: 40s\n  hang_timeout: 60s\n")
        #expect(hang.key == "supervisor.hang_timeout")
        #expect(hang.description.contains("expected at least twice supervisor.heartbeat_interval (40s)"))
        let delays = try fixture.issue("retry:\n  upload:\n    initial_delay: 1h\n    max_delay: 1m\n")
        #expect(
            delays.description.contains(
                "retry.upload.max_delay = \"1m\": expected at least retry.upload.initial_delay (1h)"))
        let open = try fixture.issue("http:\n  address: 0.0.0.0\n")
        #expect(open.description.contains("http.token_file must name a file"))
        let fine = try fixture.write("http:\n  address: 0.0.0.0\n  token_file: /etc/ferry/token\n")
        #expect(try fixture.loader().load(file: fine).configuration.http.address == "0.0.0.0")
    }

    @Test("Every problem of a file is reported at once")
    func allProblemsTogether() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let issues = try fixture.issues("http:\n  port: -5\nlogging:\n  level: loud\nextra: 1\n")
        #expect(issues.map(\.key) == ["http.port", "logging.level", "extra"])
        #expect(issues.map(\.line) == [2, 4, 5])
    }

    @Test("Broken files: truncated YAML, duplicate keys, binary garbage, a missing file")
    func brokenFiles() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let truncated = try fixture.issue("supervisor:\n  heartbeat_interval: [15s\n")
        #expect(truncated.key == "(syntax)")
        #expect(truncated.line != nil)
        #expect(truncated.description.contains("expected valid YAML"))
        let duplicate = try fixture.issue("http:\n  port: 1\n  port: 2\n")
        #expect(duplicate.description.contains("port: is set twice"))
        let garbagePath = fixture.folder.appendingPathComponent("garbage.yaml")
        try Data([0xff, 0xfe, 0x00, 0x12, 0x80, 0x81]).write(to: garbagePath)
        do {
            _ = try fixture.loader().load(file: garbagePath.path)
            Issue.record("garbage loaded")
        } catch {
            #expect(error.issues.count == 1)
            #expect(error.description.contains("garbage.yaml"))
        }
        do {
            _ = try fixture.loader().load(file: fixture.folder.path + "/missing.yaml")
            Issue.record("a missing file loaded")
        } catch {
            #expect(error.description.contains("missing.yaml: (file): cannot be read"))
        }
    }

    @Test("Environment overrides are checked as strictly as the file")
    func environmentErrors() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        do {
            _ = try fixture.loader(["FERRY_HTTP_PORTT": "1", "FERRY_HTTP_PORT": "99999"]).load(file: nil)
            Issue.record("bad environment accepted")
        } catch {
            #expect(error.issues.count == 2)
            #expect(
                error.description.contains(
                    "environment: FERRY_HTTP_PORT (http.port) = \"99999\": expected a whole number from 0 to 65535"))
            #expect(
                error.description.contains(
                    "environment: FERRY_HTTP_PORTT = \"1\": is not a Ferry setting; did you mean FERRY_HTTP_PORT?"))
        }
    }
}

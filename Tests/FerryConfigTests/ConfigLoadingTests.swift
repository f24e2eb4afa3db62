import FerryConfig
import FerryCore
import Foundation
import Testing

@Suite("Loading the configuration")
struct ConfigLoadingTests {
    @Test("With no file and no environment, Ferry runs on the embedded defaults from the field")
    func defaultsWithoutAFile() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let loaded = try fixture.loader().load(file: nil)
        #expect(loaded.file == nil)
        #expect(loaded.configuration == FerryConfiguration())
        let configuration = loaded.configuration
        #expect(configuration.supervisor.heartbeatInterval == .seconds(15))
        #expect(configuration.supervisor.hangTimeout == .seconds(60))
        #expect(configuration.cleanup.sweepInterval == .seconds(120))
        #expect(configuration.cleanup.pendingScanInterval == .seconds(30))
        #expect(configuration.cleanup.pendingBatchSize == 50)
        #expect(configuration.cleanup.pendingMinAge == .seconds(10))
        #expect(configuration.retry.video.maxAttempts >= 4)
        #expect(configuration.retry.video.jitter == .equal)
        #expect(configuration.database.synchronous == "full")
        #expect(loaded.stateDirectory == fixture.folder.path + "/ferry-state")
        #expect(loaded.databasePath == fixture.folder.path + "/ferry-state/ferry.sqlite")
    }

    @Test("The state folder is systemd's STATE_DIRECTORY, else the configured one, else ./ferry-state")
    func stateFolderResolution() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let file = try fixture.write("state_dir: data\ndatabase:\n  path: jobs.db\n")
        let configured = try fixture.loader().load(file: file)
        #expect(configured.stateDirectory == fixture.folder.path + "/data")
        #expect(configured.databasePath == fixture.folder.path + "/data/jobs.db")
        let underSystemd = try fixture.loader(["STATE_DIRECTORY": "/var/lib/ferry:/var/lib/other"]).load(file: file)
        #expect(underSystemd.stateDirectory == "/var/lib/ferry")
        let absolute = try fixture.loader().load(file: try fixture.write("database:\n  path: /srv/ferry.sqlite\n"))
        #expect(absolute.databasePath == "/srv/ferry.sqlite")
    }

    @Test("The file is found from --config, then FERRY_CONFIG, then CONFIGURATION_DIRECTORY")
    func fileDiscovery() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let file = try fixture.write("http:\n  port: 9001\n")
        #expect(fixture.loader().configurationFile(explicit: "/x.yaml") == "/x.yaml")
        #expect(fixture.loader(["FERRY_CONFIG": file]).configurationFile(explicit: nil) == file)
        let fromSystemd = fixture.loader(["CONFIGURATION_DIRECTORY": fixture.folder.path])
        #expect(fromSystemd.configurationFile(explicit: nil) == file)
        #expect(try fromSystemd.load().configuration.http.port == 9001)
        #expect(fixture.loader(["CONFIGURATION_DIRECTORY": "/nonexistent"]).configurationFile(explicit: nil) == nil)
    }

    @Test("Environment variables override the file and are reported")
    func environmentOverrides() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let file = try fixture.write("supervisor:\n  heartbeat_interval: 20s\n")
        let loaded = try fixture.loader([
            "FERRY_SUPERVISOR_HEARTBEAT_INTERVAL": "5s", "FERRY_WORKERS_DOWNLOAD_PROCESSES": "3",
            "FERRY_CONFIG": file, "PATH": "/usr/bin",
        ]).load()
        #expect(loaded.configuration.supervisor.heartbeatInterval == .seconds(5))
        #expect(loaded.configuration.workers.download.processes == 3)
        #expect(Set(loaded.environmentOverrides) == ["supervisor.heartbeat_interval", "workers.download.processes"])
    }

    @Test("Config/ferry.yaml documents every setting with exactly the embedded defaults")
    func documentedFileMatchesTheSchema() throws {
        let path = repositoryRoot.appendingPathComponent("Config/ferry.yaml").path
        let committed = try String(contentsOfFile: path, encoding: .utf8)
        #expect(
            committed == ConfigDocument.render(FerryConfiguration()),
            "Config/ferry.yaml is out of date: regenerate it with `ferry config show --defaults > Config/ferry.yaml`")
        let loaded = try ConfigLoader(environment: [:], currentDirectory: "/tmp").load(file: path)
        #expect(loaded.configuration == FerryConfiguration())
        for entry in ConfigDocument.keys() {
            let leaf = String(entry.key.split(separator: ".").last!)
            #expect(committed.contains("\(leaf):"), "\(entry.key) is not in Config/ferry.yaml")
            #expect(!entry.summary.isEmpty)
        }
    }

    @Test("A rendered non-default configuration loads back to the same values")
    func renderingRoundTrips() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        var configuration = FerryConfiguration()
        configuration.stateDirectory = "/srv/ferry \"quoted\""
        configuration.supervisor.heartbeatInterval = .milliseconds(1500)
        configuration.supervisor.hangTimeout = .seconds(90)
        configuration.workers.upload.processes = 0
        configuration.retry.download.jitter = .none
        configuration.retry.download.multiplier = 1.5
        configuration.http.address = "::1"
        configuration.logging.level = "debug"
        let file = try fixture.write(ConfigDocument.render(configuration))
        #expect(try fixture.loader().load(file: file).configuration == configuration)
    }

    @Test("An empty file, or one with only comments, means all defaults")
    func emptyFile() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        #expect(try fixture.loader().load(file: try fixture.write("")).configuration == FerryConfiguration())
        #expect(try fixture.loader().load(file: try fixture.write("# nothing\n")).configuration == FerryConfiguration())
    }

    @Test(
        "Durations parse in every unit and format back to the shortest text",
        arguments: [
            ("500ms", Duration.milliseconds(500), "500ms"), ("15s", .seconds(15), "15s"), ("2m", .seconds(120), "2m"),
            ("1h", .seconds(3600), "1h"), ("1d", .seconds(86_400), "1d"), ("1m30s", .seconds(90), "1m30s"),
            ("90s", .seconds(90), "1m30s"), ("0s", .zero, "0s"),
        ])
    func durations(text: String, duration: Duration, canonical: String) throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let file = try fixture.write("cleanup:\n  pending_min_age: \(text)\n")
        let loaded = try fixture.loader().load(file: file)
        #expect(loaded.configuration.cleanup.pendingMinAge == duration)
        var configuration = FerryConfiguration()
        configuration.cleanup.pendingMinAge = duration
        #expect(ConfigDocument.render(configuration).contains("pending_min_age: \(canonical)\n"))
    }
}

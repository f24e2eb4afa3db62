import ArgumentParser
import FerryConfig
import FerryCore
import FerryPostgres
import Foundation

/// `ferry cluster …`: what only several nodes on one PostgreSQL queue need.
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Manage the nodes sharing a PostgreSQL queue (database.url).",
        subcommands: [Forget.self]
    )

    struct Forget: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forget a node that will not come back, and settle the records of the files it held.",
            discussion: """
                Until a dead node is forgotten, its records wait for a node of its name to return \
                with its state folder. Forgetting it fetches again, on a live node, every download \
                whose file it kept (from the download's source, pinned to the lost bytes); marks \
                cleaned the uploads of downloads delivered everywhere whose file was to be removed \
                after them; and lists what cannot come back (downloads adopted from a file there, \
                videos stored in its own folder). Refused while the node holds a live lease.
                """)

        @OptionGroup var options: ConfigOptions

        @Argument(help: "The node's name, as `ferry status` lists it (cluster.node_name, or its host name).")
        var name: String

        @Flag(help: "Print what forgetting the node would do, and change nothing.")
        var dryRun = false

        func run() async throws {
            let loaded = try options.load()
            guard !loaded.configuration.database.url.isEmpty else {
                Terminal.error(
                    "`ferry cluster forget` needs several nodes on one PostgreSQL queue (database.url); on SQLite there is one node"
                )
                throw ExitStatus.config
            }
            let report: ForgottenNode
            do {
                let store = try await PostgresDatabase.open(loaded)
                defer { store.close() }
                report = try await store.forgetNode(named: name, dryRun: dryRun)
            } catch let error as StoreError {
                switch error.code {
                case .notFound:
                    Terminal.error(error.message)
                    throw ExitStatus.noInput
                case .conflict:
                    Terminal.error(error.message)
                    throw ExitStatus.failure
                default: throw error.report()
                }
            }
            print(Self.summary(report, name: name, dryRun: dryRun))
        }

        static func summary(_ report: ForgottenNode, name: String, dryRun: Bool = false) -> String {
            func ids(_ list: [JobID]) -> String {
                list.isEmpty ? "none" : list.map { "\($0.rawValue)" }.joined(separator: ", ")
            }
            let incarnations = report.incarnations.joined(separator: ", ")
            let lost = "records whose file cannot come back (adopted from a file there, or a video in its folder)"
            guard dryRun else {
                return """
                    forgot node \(name) (\(incarnations))
                    jobs put back in the queue: \(ids(report.released))
                    downloads to fetch again on a live node: \(ids(report.refetched))
                    delivered downloads whose uploads are now marked cleaned: \(ids(report.cleaned))
                    \(lost): \(ids(report.lost))
                    """
            }
            return """
                dry run: nothing was changed; forgetting node \(name) (\(incarnations)) now would
                put back in the queue: \(ids(report.released))
                fetch again on a live node: \(ids(report.refetched))
                mark the uploads cleaned of the delivered downloads: \(ids(report.cleaned))
                leave these \(lost): \(ids(report.lost))
                """
        }
    }
}

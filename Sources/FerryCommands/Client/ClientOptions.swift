import ArgumentParser

/// The options every command that talks to the running daemon takes.
struct ClientOptions: ParsableArguments {
    @OptionGroup var config: ConfigOptions

    @Option(
        help: ArgumentHelp(
            "The admin API's base URL. Default: http.address and http.port of the configuration.", valueName: "url"))
    var url: String?

    @Flag(help: "Print the API's JSON answer instead of a table, for scripts.")
    var json = false

    func client() throws -> AdminAPIClient {
        try AdminAPIClient(configuration: config.load().configuration, url: url)
    }
}

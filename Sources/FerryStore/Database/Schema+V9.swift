/// Migration `v9-download-engine`: a download remembers who was asked to fetch it.
///
/// - `downloads.engine` is `aria2` or `ferry` when the request named one (`"engine"` in the API,
///   `--engine` in the CLI), NULL when the URL's scheme decides. Before it, the choice was
///   accepted and then lost: a `.torrent` URL or a metalink asked of aria2 was fetched by Ferry's
///   own client as a plain file.
enum SchemaV9 {
    static let identifier = "v9-download-engine"

    static let sql = """
        ALTER TABLE downloads ADD COLUMN engine TEXT CHECK (engine IS NULL OR engine IN ('ferry', 'aria2'));
        """
}

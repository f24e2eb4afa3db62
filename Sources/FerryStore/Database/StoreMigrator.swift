internal import GRDB

/// The named, ordered migrations of the store. A migration never changes once released: the
/// schema evolves by adding one.
enum StoreMigrator {
    static let all: [(identifier: String, sql: String)] = [
        (SchemaV1.identifier, SchemaV1.sql),
        (SchemaV2.identifier, SchemaV2.sql),
        (SchemaV3.identifier, SchemaV3.sql),
        (SchemaV4.identifier, SchemaV4.sql),
        (SchemaV5.identifier, SchemaV5.sql),
        (SchemaV6.identifier, SchemaV6.sql),
        (SchemaV7.identifier, SchemaV7.sql),
        (SchemaV8.identifier, SchemaV8.sql),
        (SchemaV9.identifier, SchemaV9.sql),
        (SchemaV10.identifier, SchemaV10.sql),
        (SchemaV11.identifier, SchemaV11.sql),
    ]

    /// The migrator, optionally stopping after `last` (tests build older databases with it).
    static func migrator(upTo last: String? = nil) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for (identifier, sql) in all {
            migrator.registerMigration(identifier) { db in try db.execute(sql: sql) }
            if identifier == last { break }
        }
        return migrator
    }

    static var identifiers: [String] { all.map(\.identifier) }
}

public import FerryCore

/// The SQLite store offers everything the cleanup needs, with the methods in this folder: one
/// node, so every record's file is here.
extension SQLiteJobStore: CleanupStore {}

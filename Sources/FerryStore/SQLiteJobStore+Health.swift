public import FerryCore
internal import GRDB

extension SQLiteJobStore {
    public func checkWritable() async throws(StoreError) {
        let now = nowMilliseconds
        try await write { db in
            try db.execute(
                sql: "INSERT INTO write_probe (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at",
                arguments: [now])
        }
    }
}

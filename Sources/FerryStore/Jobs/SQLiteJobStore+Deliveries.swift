public import FerryCore
import Foundation
internal import GRDB

extension SQLiteJobStore {
    /// After an upload succeeded: when the download asked for its local file to be removed once
    /// delivered and every one of its uploads has now succeeded, marks them all cleaned (with the
    /// time) in one transaction and returns the file to remove; nil otherwise. The caller removes
    /// the file after this commits: a crash in between leaves a file whose records say it is gone,
    /// which the cleanup worker's reconciliation removes, never a record pointing at nothing.
    public func cleanUpAfterDeliveries(of downloadID: JobID) async throws(StoreError) -> String? {
        let now = nowMilliseconds
        return try await write(jobID: downloadID) { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT d.delete_after_upload, j.result_location FROM downloads d JOIN jobs j ON j.id = d.job_id
                        WHERE d.job_id = ?
                        """,
                    arguments: [downloadID.rawValue]),
                (row[0] as Int64) == 1, let location = row[1] as String?
            else { return nil }
            let uploads = try Row.fetchAll(
                db,
                sql: "SELECT j.id, j.state FROM uploads u JOIN jobs j ON j.id = u.job_id WHERE u.download_id = ?",
                arguments: [downloadID.rawValue])
            guard !uploads.isEmpty, uploads.allSatisfy({ ($0[1] as String) == JobState.succeeded.rawValue })
            else { return nil }
            for upload in uploads {
                let job = try JobTransition.load(db, JobID(upload[0] as Int64))
                let move = JobTransition(
                    command: .markCleaned,
                    reason: "every upload of download \(downloadID) succeeded; local file removed",
                    assignments: [("cleaned_at", now)])
                _ = try move.apply(db, to: job, now: now)
            }
            return location
        }
    }

    /// Delivered downloads whose clean-up never ran: they asked for their file to go once delivered
    /// and every upload has succeeded, but none is marked cleaned (the supervisor died between
    /// recording the last upload and cleaning up). Oldest first.
    public func deliveriesAwaitingCleanUp() async throws(StoreError) -> [JobID] {
        try await read { db in
            try Int64.fetchAll(
                db,
                sql: """
                    SELECT d.job_id FROM downloads d JOIN jobs j ON j.id = d.job_id
                    WHERE d.delete_after_upload = 1 AND j.state = 'succeeded'
                        AND EXISTS (SELECT 1 FROM uploads u WHERE u.download_id = d.job_id)
                        AND NOT EXISTS (
                            SELECT 1 FROM uploads u JOIN jobs uj ON uj.id = u.job_id
                            WHERE u.download_id = d.job_id AND uj.state <> 'succeeded')
                    ORDER BY d.job_id
                    """
            ).map { JobID($0) }
        }
    }
}

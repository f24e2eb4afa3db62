import FerryCore

/// `POST /api/download-batches`: up to 1,000 downloads in one request, queued in one transaction
/// (what `aria2c -i list` does for a list of URLs). Each item is a download body as
/// `POST /api/downloads` takes it, plus its own optional `idempotency_key`, so sending the same
/// batch again after a lost answer queues nothing twice.
struct DownloadBatchBody: APIBody {
    static let fields: Set<String> = ["downloads"]
    static let itemFields = DownloadBody.fields.union(["idempotency_key"])
    static let maximumItems = 1_000
    static let bodyLimit: Int? = 1 << 20

    var downloads: [Item]

    struct Item: Decodable {
        var body: DownloadBody
        var idempotencyKey: String?

        enum CodingKeys: String, CodingKey { case idempotencyKey }

        init(from decoder: any Decoder) throws {
            body = try DownloadBody(from: decoder)
            idempotencyKey = try decoder.container(keyedBy: CodingKeys.self)
                .decodeIfPresent(String.self, forKey: .idempotencyKey)
        }
    }

    static func checkNestedFields(_ object: [String: Any]) throws(APIError) {
        guard let items = object["downloads"] as? [Any] else { return }
        for (index, item) in items.enumerated() {
            guard let fields = item as? [String: Any] else {
                throw .badRequest("invalid_field", "downloads[\(index)] must be an object")
            }
            if let unknown = fields.keys.sorted().first(where: { !itemFields.contains($0) }) {
                throw .badRequest(
                    "unknown_field",
                    "downloads[\(index)]: the field \(unknown) is not known here; use \(itemFields.sorted().joined(separator: ", "))"
                )
            }
        }
    }

    /// The requests the store takes, or the first item that is wrong, by its index.
    func requests(
        knownTargets: Set<String>, allowedSchemes: [String] = ["http", "https"]
    ) throws(APIError) -> [DownloadRequest] {
        guard (1...Self.maximumItems).contains(downloads.count) else {
            throw .badRequest("invalid_batch", "downloads must hold 1 to \(Self.maximumItems) items")
        }
        var requests: [DownloadRequest] = []
        var keys: Set<String> = []
        for (index, item) in downloads.enumerated() {
            do {
                requests.append(
                    try item.body.request(
                        idempotencyKey: item.idempotencyKey, knownTargets: knownTargets, allowedSchemes: allowedSchemes)
                )
            } catch {
                throw APIError(error.status, error.code, "downloads[\(index)]: \(error.message)")
            }
            if let key = item.idempotencyKey, !keys.insert(key).inserted {
                throw .badRequest("duplicate_idempotency_key", "downloads[\(index)]: the idempotency_key repeats")
            }
        }
        return requests
    }
}

import Foundation

/// What a worker keeps in a job's resume state (or reports as an attempt's record), as JSON.
protocol JSONResumeState: Codable {}

extension JSONResumeState {
    /// The state `json` holds; nil when there is none, or it is another kind of state.
    init?(json: String?) {
        guard let json, let decoded = try? JSONDecoder().decode(Self.self, from: Data(json.utf8)) else { return nil }
        self = decoded
    }

    var json: String { String(decoding: (try? JSONEncoder().encode(self)) ?? Data("{}".utf8), as: UTF8.self) }
}

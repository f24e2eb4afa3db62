import Foundation

/// pass, warn or fail, in the words of the health-check draft (draft-inadarei-api-health-check).
enum HealthStatus: String, Encodable, Comparable {
    case pass, warn, fail

    private var rank: Int {
        switch self {
        case .pass: 0
        case .warn: 1
        case .fail: 2
        }
    }

    static func < (lhs: HealthStatus, rhs: HealthStatus) -> Bool { lhs.rank < rhs.rank }
}

/// A response in the shape of the health-check draft (`application/health+json`): an overall
/// status, the reasons in `notes`, and `checks` keyed `component:measurement`.
struct HealthDocument: Encodable {
    var status: HealthStatus = .pass
    var version: String
    var releaseId: String
    var serviceId = "ferry"
    var description: String
    /// Why the status is not pass, one sentence each; empty on pass.
    var notes: [String] = []
    var checks: [String: [HealthCheck]] = [:]

    /// Adds a check and folds its status (and its reason, when not pass) into the document's.
    mutating func add(_ key: String, _ check: HealthCheck) {
        checks[key, default: []].append(check)
        if check.status > .pass, let output = check.output { notes.append(output) }
        status = max(status, check.status)
    }
}

/// One observation.
struct HealthCheck: Encodable {
    var componentId: String?
    var componentType: String?
    var observedValue: Double?
    var observedUnit: String?
    var status: HealthStatus
    var time: Date
    /// Why the status is warn or fail.
    var output: String?
    /// Extra facts about the component (a worker's pid, role, jobs …).
    var details: [String: String]?

    init(
        id: String? = nil, type: String? = nil, value: Double? = nil, unit: String? = nil,
        status: HealthStatus = .pass, time: Date, output: String? = nil, details: [String: String]? = nil
    ) {
        componentId = id
        componentType = type
        observedValue = value
        observedUnit = unit
        self.status = status
        self.time = time
        self.output = status == .pass ? nil : output
        self.details = details
    }
}

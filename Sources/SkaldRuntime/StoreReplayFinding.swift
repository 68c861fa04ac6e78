public import Skald

/// Something a replay of the store found wrong with one saga.
public struct StoreReplayFinding: Sendable, CustomStringConvertible {
    /// What was found.
    public enum Kind: Sendable {
        /// The definition decides differently from what the log records.
        case diverged(ReplayReport)
        /// Folding the log does not give the `sagas` row: these fields differ.
        case snapshotDiffers([String])
        /// No registered definition can replay it (a deploy dropped a version still in flight).
        case noDefinition(String)
        /// The log cannot be read back into events, or events are missing from it.
        case unreadable(String)
    }

    /// The saga.
    public var sagaId: String
    /// Its type.
    public var sagaType: String
    /// The definition version it was checked against; nil when there was none.
    public var version: Int?
    /// What was found.
    public var kind: Kind

    /// One line for a terminal or a CI log.
    public var description: String {
        let subject = "saga \(sagaId) (\(sagaType)\(version.map { " v\($0)" } ?? ""))"
        switch kind {
        case .diverged(let report):
            guard let divergence = report.divergence else { return "\(subject): replays identically" }
            return "\(subject): diverges at event \(divergence.sequence) after \(report.matchedEvents) matching: \(divergence.explanation)"
        case .snapshotDiffers(let fields):
            return "\(subject): its snapshot differs from its log in \(fields.joined(separator: "; "))"
        case .noDefinition(let reason):
            return "\(subject): cannot be replayed: \(reason)"
        case .unreadable(let reason):
            return "\(subject): its log cannot be read: \(reason)"
        }
    }
}

/// What a replay of the store checked and found.
public struct StoreReplaySummary: Sendable {
    /// Sagas checked.
    public var checked = 0
    /// Sagas whose log replays identically (and, against their own version, folds into their snapshot).
    public var identical = 0
    /// Sagas checked, by `type vN` of the definition used.
    public var byDefinition: [String: Int] = [:]
    /// How many sagas had a finding.
    public var findingCount = 0
    /// The first ``keptFindings`` findings, in the order found (``StoreReplay/run(_:limit:target:onFinding:)``
    /// hands each one to its caller as it is found; a store of millions of sagas against an
    /// incompatible definition must not hold them all).
    public var findings: [StoreReplayFinding] = []

    /// How many findings ``findings`` keeps.
    public static let keptFindings = 1000

    /// An empty summary.
    public init() {}

    mutating func record(_ finding: StoreReplayFinding) {
        findingCount += 1
        if findings.count < Self.keptFindings { findings.append(finding) }
    }
}

public import Skald

/// The saga types an orchestrator runs, every version of each.
///
/// New instances start with the latest version; an instance keeps the version it
/// started with for its whole life, so a deploy that changes a saga never changes
/// the rules under sagas already in flight — as long as their old version stays
/// registered next to the new one.
public struct SagaRegistry: Sendable {
    private var sagas: [String: [Int: any RegisteredSaga]] = [:]

    /// An empty registry.
    public init() {}

    /// Validates `definition` and registers it.
    ///
    /// - Throws: ``SagaDefinitionErrors`` naming the saga, the step and the broken rule,
    ///   or ``SagaRuntimeError`` when that name and version are registered already.
    public mutating func register<State: Codable & Sendable & Equatable>(_ definition: SagaDefinition<State>) throws {
        try definition.validate()
        if sagas[definition.name]?[definition.version] != nil {
            throw SagaRuntimeError("saga \(definition.name) v\(definition.version) is registered twice")
        }
        sagas[definition.name, default: [:]][definition.version] = SagaAdapter(definition: definition)
    }

    /// The saga type `name` at `version`.
    public func saga(named name: String, version: Int) -> (any RegisteredSaga)? {
        sagas[name]?[version]
    }

    /// The newest version of saga type `name`: the one new instances start with.
    public func latest(named name: String) -> (any RegisteredSaga)? {
        guard let versions = sagas[name], let newest = versions.keys.max() else { return nil }
        return versions[newest]
    }

    /// The newest version of every saga type.
    public var latestVersions: [any RegisteredSaga] {
        sagas.keys.sorted().compactMap { latest(named: $0) }
    }

    /// Every topic any registered version consumes.
    public var inputTopics: Set<String> {
        var topics: Set<String> = []
        for versions in sagas.values {
            for saga in versions.values { topics.formUnion(saga.inputTopics) }
        }
        return topics
    }
}

/// Every saga type the orchestrator runs, by name and version.
///
/// Registration validates: a definition that breaks a rule never runs. Instances
/// keep the version they started with, so several versions of one saga type can
/// be registered side by side while old instances finish.
public struct SagaRegistry: Sendable {
    private var definitions: [Key: any RuntimeSagaDefinition] = [:]
    /// The newest version of each saga type, by name.
    private var latestByName: [String: any RuntimeSagaDefinition] = [:]
    /// The same, ordered by name: the order `route` asks them in, kept here rather than
    /// sorted again for every message routed.
    private var latestInOrder: [any RuntimeSagaDefinition] = []

    private struct Key: Hashable {
        let name: String
        let version: Int
    }

    /// An empty registry.
    public init() {}

    /// Adds a definition after checking every rule.
    ///
    /// - Throws: ``SagaDefinitionErrors`` listing every broken rule, or ``SagaError``
    ///   with code `duplicate-definition` if this name and version are taken.
    public mutating func register(_ definition: some RuntimeSagaDefinition) throws {
        let errors = definition.validationErrors()
        if !errors.isEmpty { throw SagaDefinitionErrors(errors: errors) }
        let key = Key(name: definition.name, version: definition.version)
        guard definitions[key] == nil else {
            throw SagaError(.duplicateDefinition, "\(definition.name) v\(definition.version) is already registered")
        }
        definitions[key] = definition
        if definition.version > latestByName[definition.name]?.version ?? Int.min {
            latestByName[definition.name] = definition
            latestInOrder = latestByName.values.sorted { $0.name < $1.name }
        }
    }

    /// The definition an instance runs.
    public func definition(name: String, version: Int) throws -> any RuntimeSagaDefinition {
        guard let definition = definitions[Key(name: name, version: version)] else {
            throw SagaError(.unknownDefinition, "no saga definition \(name) v\(version) is registered")
        }
        return definition
    }

    /// The newest version of a saga type: what new instances start with.
    public func latest(name: String) throws -> any RuntimeSagaDefinition {
        guard let latest = latestByName[name] else {
            throw SagaError(.unknownDefinition, "no saga definition named \(name) is registered")
        }
        return latest
    }

    /// Every registered definition, by name then version.
    public var all: [any RuntimeSagaDefinition] {
        definitions.values.sorted { ($0.name, $0.version) < ($1.name, $1.version) }
    }

    /// The topics to consume: the union over every version.
    public var topics: [String] {
        Array(Set(definitions.values.flatMap { $0.subscriptions.map(\.topic) })).sorted()
    }

    /// What a message means to each saga type. Starts go to the latest version;
    /// deliveries and correlations are resolved by the runtime against the
    /// instance's own version.
    public func route(
        topic: String, envelope: MessageEnvelope, payload: [UInt8]
    ) throws -> [(definition: any RuntimeSagaDefinition, route: SagaRoute)] {
        var result: [(definition: any RuntimeSagaDefinition, route: SagaRoute)] = []
        for definition in latestInOrder {
            if let sagaType = envelope.sagaType, sagaType != definition.name { continue }
            if let route = try definition.route(topic: topic, envelope: envelope, payload: payload) {
                result.append((definition, route))
            }
        }
        return result
    }
}

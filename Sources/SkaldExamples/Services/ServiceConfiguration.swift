public import SkaldKafka

/// Where an example service finds Kafka and Postgres, and how it behaves.
public struct ServiceConfiguration: Sendable {
    /// Kafka: bootstrap servers and any librdkafka property.
    public var kafka: KafkaConfiguration
    /// The Postgres URL (or conninfo) of the database; the service adds its own `search_path`.
    public var postgresURL: String
    /// The schema it owns; `nil` uses the handler's default (`orders`, `inventory`, …).
    public var schema: String?
    /// Prepended to the schema name, so several runs (tests) share one database.
    public var schemaPrefix: String
    /// The consumer group; `nil` uses `<service>-service`.
    public var groupID: String?
    /// Misbehaviour on purpose.
    public var behaviour: ServiceBehaviour
    /// Commands per transaction.
    public var batchSize: Int
    /// Where replies go.
    public var repliesTopic: String
    /// How long handled command ids stay in the inbox; nil keeps them forever. At least the
    /// commands topic's `retention.ms + segment.ms` (see `InboxPruner`); 14 days by default.
    public var inboxRetention: Duration?
    /// Whether the service applies its schema's contract migrations at start on a schema that
    /// has others applied (``PostgresMigrator/ContractMigrations``): only once no process of an
    /// earlier version serves the schema. On a new schema they apply anyway.
    public var appliesContractMigrations: Bool

    /// A configuration with defaults for everything but the two addresses.
    public init(
        kafka: KafkaConfiguration, postgresURL: String, schemaPrefix: String = "",
        behaviour: ServiceBehaviour = ServiceBehaviour()
    ) {
        self.kafka = kafka
        self.postgresURL = postgresURL
        self.schema = nil
        self.schemaPrefix = schemaPrefix
        self.groupID = nil
        self.behaviour = behaviour
        self.batchSize = 200
        self.repliesTopic = "skald.replies"
        self.inboxRetention = .seconds(14 * 24 * 3600)
        self.appliesContractMigrations = false
    }
}

public import SkaldKafka

/// Everything an ``Orchestrator`` needs to know about its surroundings.
public struct OrchestratorConfiguration: Sendable {
    /// Kafka: bootstrap servers and any librdkafka property (SASL, SSL, …).
    public var kafka: KafkaConfiguration
    /// Postgres URL or conninfo.
    public var postgresURL: String
    /// The consumer group every orchestrator instance joins.
    public var groupID = "skald-orchestrator"
    /// Where messages that cannot be parsed or routed go, with the reason in headers.
    public var deadLetterTopic = "skald.dead-letter"
    /// Messages per pump transaction.
    public var pumpBatchSize = 500
    /// Pump batches in progress at once (each for its own share of the partitions): one
    /// batch's Swift work overlaps another's time in Postgres.
    public var pumpWorkers = 2
    /// Outbox rows per publish round.
    public var relayBatchSize = defaultRelayBatchSize
    /// ``relayBatchSize``'s default.
    public static let defaultRelayBatchSize = 1_000
    /// Postgres connections in the pool (pump, relay and timers share it).
    public var poolSize = 4
    /// How often the timer service looks for due timers.
    public var timerPollInterval: Duration = .milliseconds(100)
    /// How often the relay looks at the outbox when no notification arrives.
    public var relayPollInterval: Duration = .milliseconds(250)
    /// How long rows Kafka took may wait to be deleted together with later ones (the relay's
    /// `forgetDelay`, `DeliveredRows`); zero deletes each round's rows at its end. A crash
    /// publishes again what waited, and consumers drop the copies by message id. While they
    /// wait, the rows count in `skald_outbox_pending_rows` and the outbox lag, and the timer
    /// service takes their commands as not sent yet (a timeout falling due then is put off by
    /// a second).
    public var relayForgetDelay: Duration = .milliseconds(100)
    /// How long a graceful stop waits for Kafka to take what is being sent (the relay's round,
    /// the pump's dead letters) before it gives up on it (``StopGrace``): the rows stay in the
    /// outbox, the dead letters' batch is read again. Kafka takes them in milliseconds when it
    /// is reachable; otherwise they would wait out `message.timeout.ms`.
    public var stopGrace: Duration = .seconds(5)
    /// Saga instances kept folded in memory (about 1.1 KB each for PlaceOrder): a miss costs
    /// reading and folding that saga's log under its row lock. 20,000 holds the end-to-end
    /// benchmark's whole burst and keeps a process with 100,000 sagas in flight under 150 MB
    /// (docs/benchmarks-orchestrator.md, session 14).
    public var instanceCacheCapacity = 20_000
    /// How long a consumed message's id stays in the inbox, where it makes a redelivery a
    /// no-op; nil keeps ids forever. It must be at least `retention.ms + segment.ms` of the
    /// topics the orchestrator consumes, as long as a message can still be read again (see
    /// ``InboxPruner``): 14 days with Kafka's defaults, and so is this. Keep ids forever
    /// (nil) when a consumed topic is compacted.
    public var inboxRetention: Duration? = .seconds(14 * 24 * 3600)
    /// How often expired inbox rows are deleted.
    public var inboxPruneInterval: Duration = .seconds(60)

    /// When a participant that keeps timing out has its commands held back, and how it is probed.
    public var circuitBreaker = CircuitBreaker.Policy()
    /// How long a running or compensating saga must go without an event to count as stuck
    /// (the `skald_sagas_stuck` gauge, the admin API's `stuck=true`).
    public var stuckAfter: Duration = .seconds(300)

    /// The topic every saga event is mirrored to, for projections and other readers of the log.
    public var sagaEventsTopic = "skald.saga-events"
    /// Whether the orchestrator mirrors saga events to ``sagaEventsTopic``: nil (the default)
    /// mirrors them when it runs projections. Turn it on for every instance when projections
    /// (or other programs) read the topic but some instances run none: each instance mirrors
    /// only the events it writes. The mirror costs an outbox row per event.
    public var publishSagaEvents: Bool?
    /// Messages of ``sagaEventsTopic`` per projection transaction.
    public var projectionBatchSize = 500

    /// A configuration with defaults for everything but the two addresses.
    public init(kafka: KafkaConfiguration, postgresURL: String) {
        self.kafka = kafka
        self.postgresURL = postgresURL
    }
}

import Logging

/// librdkafka properties for a producer or consumer, passed through unchanged.
///
/// Every librdkafka property (see librdkafka's CONFIGURATION.md) can be set by
/// name, so SASL, SSL and every tuning knob work against a real cluster; the
/// typed properties are conveniences over the same dictionary. The clients add
/// their safe defaults (idempotence, manual offset store, cooperative-sticky)
/// only where the caller did not set the property.
///
/// An unknown property or an invalid value is reported as a ``KafkaError``
/// naming the property when a client is created.
public struct KafkaConfiguration: Sendable, Hashable {
    /// The raw librdkafka properties, by librdkafka's names (e.g. `"security.protocol"`).
    public var properties: [String: String]

    /// How many consumed messages the consumer may buffer ahead of the caller.
    ///
    /// When the buffer is full the consumer's poll thread stops fetching until the
    /// caller catches up, so memory stays bounded. The caller must keep reading
    /// within `max.poll.interval.ms`, or the group will consider the member dead.
    public var consumerBufferCapacity: Int = 5_000

    /// The longest `KafkaConsumer.commit()` waits for the coordinator's answer before
    /// throwing a retriable `_TIMED_OUT` (the offsets stay stored for the next commit).
    public var commitTimeout: Duration = .seconds(10)

    /// How long `KafkaProducer.run()` and `shutdown()` wait for queued messages to be delivered.
    public var shutdownFlushTimeout: Duration = .seconds(10)

    /// How long `KafkaConsumer.close()` waits to leave the group. With no coordinator
    /// reachable, librdkafka's close can wait for ever (a commit outstanding at the close
    /// keeps asking for a coordinator: librdkafka issue #3740); past this the consumer is
    /// left unclosed for the process's exit, and the group drops it after `session.timeout.ms`.
    public var closeTimeout: Duration = .seconds(10)

    /// A configuration with the given bootstrap servers and any extra properties.
    public init(bootstrapServers: String? = nil, properties: [String: String] = [:]) {
        self.properties = properties
        if let bootstrapServers {
            self.properties["bootstrap.servers"] = bootstrapServers
        }
    }

    /// Reads or writes one librdkafka property by name; `nil` removes it.
    public subscript(_ property: String) -> String? {
        get { properties[property] }
        set { properties[property] = newValue }
    }

    /// `bootstrap.servers`: comma-separated `host:port` list of initial brokers.
    public var bootstrapServers: String? {
        get { properties["bootstrap.servers"] }
        set { properties["bootstrap.servers"] = newValue }
    }

    /// `client.id`: the name brokers log and quota by.
    public var clientID: String? {
        get { properties["client.id"] }
        set { properties["client.id"] = newValue }
    }

    /// `group.id`: the consumer group; required by ``KafkaConsumer``.
    public var groupID: String? {
        get { properties["group.id"] }
        set { properties["group.id"] = newValue }
    }

    /// `session.timeout.ms`: how long the group waits for a silent member before rebalancing.
    public var sessionTimeout: Duration? {
        get { properties["session.timeout.ms"].flatMap(Int64.init).map { .milliseconds($0) } }
        set { properties["session.timeout.ms"] = newValue.map { String($0.milliseconds) } }
    }

    /// `message.timeout.ms`: the longest a produced message may wait for delivery before failing.
    ///
    /// This bounds how long `KafkaProducer.send` can wait when no broker is reachable.
    public var messageTimeout: Duration? {
        get { properties["message.timeout.ms"].flatMap(Int64.init).map { .milliseconds($0) } }
        set { properties["message.timeout.ms"] = newValue.map { String($0.milliseconds) } }
    }

    /// `linger.ms`: how long the producer waits to fill a batch; higher trades latency for throughput.
    public var linger: Duration? {
        get { properties["linger.ms"].flatMap(Int64.init).map { .milliseconds($0) } }
        set { properties["linger.ms"] = newValue.map { String($0.milliseconds) } }
    }

    /// `fetch.wait.max.ms`: how long a broker may hold an empty fetch; keep it small for low latency.
    public var fetchWaitMax: Duration? {
        get { properties["fetch.wait.max.ms"].flatMap(Int64.init).map { .milliseconds($0) } }
        set { properties["fetch.wait.max.ms"] = newValue.map { String($0.milliseconds) } }
    }

    /// `auto.offset.reset`: where a group without a committed offset starts (`earliest` or `latest`).
    public var autoOffsetReset: String? {
        get { properties["auto.offset.reset"] }
        set { properties["auto.offset.reset"] = newValue }
    }

    /// The producer's defaults, applied only where the caller did not set the property.
    ///
    /// Idempotence keeps retries from duplicating or reordering messages; a
    /// bounded message timeout turns an unreachable cluster into an error.
    ///
    /// No linger: Skald's producers send in rounds (an outbox relay's rows, a batch's replies)
    /// and await the delivery reports, so a batch is already queued when the first message
    /// wakes the broker thread, and more queue up behind a request in flight. Waiting for more
    /// only delays a saga at every hop: librdkafka's 5 ms default cost the demo 20 ms of
    /// p50 saga latency at 100 sagas/s and bought no throughput (docs/benchmarks-e2e.md).
    static let producerDefaults: [String: String] = [
        "enable.idempotence": "true",
        "message.timeout.ms": "60000",
        "linger.ms": "0",
        "batch.num.messages": "10000",
        "queue.buffering.max.messages": "1000000",
        "queue.buffering.max.kbytes": "1048576",
    ]

    /// The consumer's defaults, applied only where the caller did not set the property.
    ///
    /// Manual offset store means only what the caller marks as done is ever
    /// committed; cooperative-sticky keeps unaffected partitions flowing during a rebalance.
    ///
    /// librdkafka prefetches up to 4 MB per consumer, not its default 64 MB: the consumer's
    /// own buffer (``consumerBufferCapacity``) already holds batches ahead of the caller, and
    /// a burst that a consumer cannot keep up with filled both. With 100,000 sagas started at
    /// once, `skald serve` peaked at 208 MB with the default, against 150 MB promised
    /// (docs/benchmarks-orchestrator.md, session 11).
    ///
    /// A member that stops answering is out of the group after 10 s (heartbeats every second),
    /// not librdkafka's 45 s: until then nobody consumes its partitions, and every saga waiting
    /// on them waits too. Heartbeats come from librdkafka's own thread, so a long batch does not
    /// miss them (`max.poll.interval.ms` bounds that). Against the mock cluster, even a graceful
    /// stop of the member that led the group held its partitions for the whole session timeout
    /// (docs/operations.md, "Scaling in and out").
    static let consumerDefaults: [String: String] = [
        "enable.auto.offset.store": "false",
        "partition.assignment.strategy": "cooperative-sticky",
        "auto.offset.reset": "earliest",
        "queued.max.messages.kbytes": "4096",
        "session.timeout.ms": "10000",
        "heartbeat.interval.ms": "1000",
    ]

    /// The properties with `defaults` filled in where unset, and librdkafka's `log_level`
    /// matched to the logger so it does not format lines the logger would drop.
    func properties(withDefaults defaults: [String: String], logLevel: Logger.Level) -> [String: String] {
        var merged = properties.merging(defaults) { mine, _ in mine }
        if merged["log_level"] == nil {
            merged["log_level"] = String(logLevel.syslogLevel)
        }
        return merged
    }
}

extension Duration {
    /// The duration in whole milliseconds, rounded down, for librdkafka's `*.ms` properties.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// The duration in whole milliseconds clamped into a C `int`, for librdkafka timeouts.
    var clampedMilliseconds: Int32 {
        Int32(clamping: max(0, milliseconds))
    }
}

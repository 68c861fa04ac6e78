import CRdKafka
import SkaldSystem
import Synchronization

/// librdkafka's in-process mock Kafka cluster, for development, the demo and tests.
///
/// It speaks the Kafka wire protocol on local TCP ports, so any client
/// (this module, kcat, confluent-kafka) can use ``bootstrapServers``. Known
/// limits (librdkafka 2.0.2): no transactions, an idempotent producer is not
/// deduplicated after a broker loss, each partition keeps only a few MiB,
/// and group membership changes take `session.timeout.ms` − 1 s.
/// Its broker sockets get `TCP_NODELAY`, as real brokers' do (see
/// `disableNagle(onPortsOf:)`); `SKALD_MOCK_NAGLE=1` in the environment keeps the mock's
/// own behaviour, to measure the difference.
/// Nothing in production code may depend on it.
public final class MockCluster: Sendable {
    private struct State {
        var cluster: RdKafkaPointer?
        var owner: RdKafkaPointer?
        /// Ports of brokers that are down, kept out of automatic assignment (``ReservedPorts``).
        var reservedPorts: Set<Int> = []
    }

    private let state: Mutex<State>

    /// The `host:port,…` list to put in `bootstrap.servers`.
    public let bootstrapServers: String
    /// The number of brokers, with ids `1...brokerCount`.
    public let brokerCount: Int

    /// Starts `brokers` mock brokers in this process.
    /// - Throws: ``KafkaError`` when librdkafka cannot start the cluster.
    public init(brokers: Int = 3) throws(KafkaError) {
        guard brokers > 0 else {
            throw KafkaError(code: .invalidArgument, message: "a mock cluster needs at least one broker, got \(brokers)", context: "MockCluster")
        }
        // The mock cluster needs an rd_kafka_t of its own to live in; it never produces.
        guard let conf = rd_kafka_conf_new() else {
            throw KafkaError(code: .failure, message: "rd_kafka_conf_new failed", context: "MockCluster")
        }
        var errorText = [CChar](repeating: 0, count: 512)
        _ = rd_kafka_conf_set(conf, "log_level", "3", &errorText, errorText.count)
        guard let owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errorText, errorText.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(code: .failure, message: String(nulTerminated: errorText), context: "MockCluster")
        }
        guard let cluster = rd_kafka_mock_cluster_new(owner, Int32(brokers)) else {
            rd_kafka_destroy(owner)
            throw KafkaError(code: .failure, message: "rd_kafka_mock_cluster_new failed", context: "MockCluster")
        }
        self.bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
        self.brokerCount = brokers
        self.state = Mutex(State(cluster: RdKafkaPointer(pointer: cluster), owner: RdKafkaPointer(pointer: owner)))
        Self.disableNagle(onPortsOf: bootstrapServers)
    }

    deinit {
        shutdown()
    }

    /// Creates `name` with `partitions` partitions.
    /// - Throws: ``KafkaError`` for a bad partition count or replication factor, or after ``shutdown()``.
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1) throws(KafkaError) {
        guard partitions > 0, replicationFactor > 0, replicationFactor <= brokerCount else {
            throw KafkaError(
                code: .invalidArgument,
                message: "topic \"\(name)\": need partitions > 0 and 1 ≤ replication factor ≤ \(brokerCount), got \(partitions) and \(replicationFactor)",
                context: "MockCluster.createTopic"
            )
        }
        let cluster = try live("MockCluster.createTopic")
        let err = rd_kafka_mock_topic_create(cluster, name, Int32(partitions), Int32(replicationFactor))
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(err, context: "MockCluster.createTopic \(name)")
        }
    }

    /// Takes broker `id` down: its connections close and it refuses new ones.
    ///
    /// librdkafka rebinds the broker's port at once, to listen there again when it comes up,
    /// and aborts the process if the port was taken meanwhile; so the port is first kept out of
    /// automatic assignment, where the machine allows it (``ReservedPorts``), until
    /// ``setBrokerUp(_:)`` or ``shutdown()``.
    public func setBrokerDown(_ id: Int32) throws(KafkaError) {
        let cluster = try live("MockCluster.setBrokerDown")
        if let port = port(ofBroker: id), ReservedPorts.reserve(port) {
            state.withLock { _ = $0.reservedPorts.insert(port) }
        }
        let err = rd_kafka_mock_broker_set_down(cluster, id)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, context: "MockCluster.setBrokerDown \(id)") }
    }

    /// Brings broker `id` back up.
    public func setBrokerUp(_ id: Int32) throws(KafkaError) {
        let err = rd_kafka_mock_broker_set_up(try live("MockCluster.setBrokerUp"), id)
        if let port = port(ofBroker: id), state.withLock({ $0.reservedPorts.remove(port) }) != nil {
            ReservedPorts.release(port)
        }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, context: "MockCluster.setBrokerUp \(id)") }
    }

    /// The local port broker `id` listens on: ``bootstrapServers`` lists the brokers in id order.
    func port(ofBroker id: Int32) -> Int? {
        let servers = bootstrapServers.split(separator: ",")
        guard id >= 1, Int(id) <= servers.count, let colon = servers[Int(id) - 1].lastIndex(of: ":") else { return nil }
        return Int(servers[Int(id) - 1][servers[Int(id) - 1].index(after: colon)...])
    }

    /// Makes the next requests of type `apiKey` (on any broker) fail with `errors`, one error per request.
    public func pushRequestErrors(apiKey: KafkaAPIKey, errors: [KafkaError.Code]) throws(KafkaError) {
        let cluster = try live("MockCluster.pushRequestErrors")
        let codes = errors.map { rd_kafka_resp_err_t(rawValue: $0.rawValue) }
        codes.withUnsafeBufferPointer { buffer in
            rd_kafka_mock_push_request_errors_array(cluster, apiKey.rawValue, buffer.count, buffer.baseAddress)
        }
    }

    /// Drops any request errors still queued for `apiKey`.
    public func clearRequestErrors(apiKey: KafkaAPIKey) throws(KafkaError) {
        rd_kafka_mock_clear_request_errors(try live("MockCluster.clearRequestErrors"), apiKey.rawValue)
    }

    /// Stops the brokers and frees the cluster; later calls throw. Safe to call twice.
    public func shutdown() {
        let taken = state.withLock { state -> (RdKafkaPointer?, RdKafkaPointer?, Set<Int>) in
            defer { state = State() }
            return (state.cluster, state.owner, state.reservedPorts)
        }
        if let cluster = taken.0 { rd_kafka_mock_cluster_destroy(cluster.pointer) }
        if let owner = taken.1 { rd_kafka_destroy(owner.pointer) }
        for port in taken.2 { ReservedPorts.release(port) }
    }

    private func live(_ context: String) throws(KafkaError) -> OpaquePointer {
        guard let cluster = state.withLock({ $0.cluster }) else {
            throw KafkaError.state("the mock cluster is shut down", context: context)
        }
        return cluster.pointer
    }
}

import CRdKafka

/// An error from librdkafka or from the Skald wrapper around it.
///
/// It carries librdkafka's numeric code (so callers can branch on it), the
/// code's symbolic name, librdkafka's human-readable message and the place in
/// the wrapper where it surfaced, so a log line alone says what went wrong.
public struct KafkaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A librdkafka error code (`rd_kafka_resp_err_t`): negative values are
    /// client-side errors, positive values are Kafka protocol errors.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The numeric `rd_kafka_resp_err_t` value.
        public let rawValue: Int32

        /// Wraps a raw librdkafka error code.
        public init(rawValue: Int32) {
            self.rawValue = rawValue
        }

        /// librdkafka's symbolic name of the code, e.g. `_MSG_TIMED_OUT` or `NOT_LEADER_FOR_PARTITION`.
        public var name: String {
            String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(rawValue: rawValue)))
        }

        /// librdkafka's one-line explanation of the code.
        public var explanation: String {
            String(cString: rd_kafka_err2str(rd_kafka_resp_err_t(rawValue: rawValue)))
        }

        /// The symbolic name, as librdkafka prints it.
        public var description: String { name }

        /// No error.
        public static let noError = Code(rawValue: 0)
        /// A local failure without a more specific code.
        public static let failure = Code(rawValue: -196)
        /// The broker connection failed.
        public static let transport = Code(rawValue: -195)
        /// A message was not delivered within `message.timeout.ms`.
        public static let messageTimedOut = Code(rawValue: -192)
        /// No broker is reachable.
        public static let allBrokersDown = Code(rawValue: -187)
        /// An argument or configuration value was rejected.
        public static let invalidArgument = Code(rawValue: -186)
        /// A local operation timed out.
        public static let timedOut = Code(rawValue: -185)
        /// The local producer queue is full.
        public static let queueFull = Code(rawValue: -184)
        /// The operation does not fit the client's current state (e.g. a partition that is not assigned).
        public static let invalidState = Code(rawValue: -172)
        /// There was no stored offset to commit.
        public static let noOffset = Code(rawValue: -168)
        /// A queued message was purged before it was sent (the client is shutting down).
        public static let purgedFromQueue = Code(rawValue: -152)
        /// An in-flight message was purged (the client is shutting down).
        public static let purgedInFlight = Code(rawValue: -151)
        /// The client raised a fatal error and can no longer be used.
        public static let fatal = Code(rawValue: -150)
        /// A configuration property is unknown.
        public static let unknownProperty = Code(rawValue: -2)
        /// A configuration value is invalid for its property.
        public static let invalidValue = Code(rawValue: -1)
        /// The Kafka broker reported an unknown server error.
        public static let unknownServerError = Code(rawValue: -1000)
        /// The broker is not the leader of the partition (retriable).
        public static let notLeaderForPartition = Code(rawValue: 6)
        /// The broker did not answer in time (retriable).
        public static let requestTimedOut = Code(rawValue: 7)
        /// The partition has no leader right now (retriable).
        public static let leaderNotAvailable = Code(rawValue: 5)
        /// Too few in-sync replicas (retriable).
        public static let notEnoughReplicas = Code(rawValue: 19)
        /// The group is rebalancing; a commit now fails and may be repeated after it.
        public static let rebalanceInProgress = Code(rawValue: 27)
    }

    /// librdkafka's code for this error.
    public var code: Code
    /// A message for humans: librdkafka's error string, or the wrapper's explanation.
    public var message: String
    /// Whether repeating the operation may succeed.
    public var isRetriable: Bool
    /// Whether the client raised a fatal error and must be recreated.
    public var isFatal: Bool
    /// Where the error surfaced, e.g. `"KafkaConfiguration: bootstrap.servers"` or `"KafkaProducer.send"`.
    public var context: String

    /// Creates an error; `isRetriable` defaults to what is known about `code`.
    public init(code: Code, message: String, context: String, isRetriable: Bool? = nil, isFatal: Bool = false) {
        self.code = code
        self.message = message
        self.context = context
        self.isRetriable = isRetriable ?? Self.retriableCodes.contains(code.rawValue)
        self.isFatal = isFatal || code == .fatal
    }

    /// One line: where, the code name and number, and the message.
    public var description: String {
        var text = "KafkaError(\(context)): \(code.name) [\(code.rawValue)]: \(message)"
        if isFatal { text += " (fatal)" }
        if isRetriable { text += " (retriable)" }
        return text
    }

    /// Codes where repeating the operation later can succeed without changing anything.
    static let retriableCodes: Set<Int32> = [
        -195,  // _TRANSPORT
        -192,  // _MSG_TIMED_OUT
        -187,  // _ALL_BROKERS_DOWN
        -185,  // _TIMED_OUT
        -184,  // _QUEUE_FULL
        -180,  // _WAIT_COORD
        -166,  // _TIMED_OUT_QUEUE
        -153,  // _RETRY
        -142,  // _ASSIGNMENT_LOST (a commit while the assignment was lost; the member rejoins)
        5,  // LEADER_NOT_AVAILABLE
        6,  // NOT_LEADER_FOR_PARTITION
        7,  // REQUEST_TIMED_OUT
        13,  // NETWORK_EXCEPTION
        14,  // COORDINATOR_LOAD_IN_PROGRESS
        15,  // COORDINATOR_NOT_AVAILABLE
        16,  // NOT_COORDINATOR
        19,  // NOT_ENOUGH_REPLICAS
        20,  // NOT_ENOUGH_REPLICAS_AFTER_APPEND
        22,  // ILLEGAL_GENERATION (a commit from before a rebalance)
        25,  // UNKNOWN_MEMBER_ID (a commit after the member was dropped; it rejoins)
        27,  // REBALANCE_IN_PROGRESS (a commit during a rebalance)
    ]
}

extension KafkaError {
    /// An error from a bare librdkafka code, with librdkafka's own explanation as message.
    init(_ err: rd_kafka_resp_err_t, context: String, message: String? = nil) {
        let code = Code(rawValue: err.rawValue)
        self.init(code: code, message: message ?? code.explanation, context: context)
    }

    /// Takes ownership of an `rd_kafka_error_t`, copying what it says and destroying it.
    init(consuming error: OpaquePointer, context: String) {
        let code = Code(rawValue: rd_kafka_error_code(error).rawValue)
        let message = rd_kafka_error_string(error).map { String(cString: $0) } ?? code.explanation
        self.init(
            code: code,
            message: message,
            context: context,
            isRetriable: rd_kafka_error_is_retriable(error) != 0 || Self.retriableCodes.contains(code.rawValue),
            isFatal: rd_kafka_error_is_fatal(error) != 0
        )
        rd_kafka_error_destroy(error)
    }

    /// A wrapper-level error about the client's own state (closed, misused).
    static func state(_ message: String, context: String) -> KafkaError {
        KafkaError(code: .invalidState, message: message, context: context, isRetriable: false)
    }
}

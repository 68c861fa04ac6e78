import CRdKafka
import Logging

/// The callbacks a librdkafka handle calls back into Swift, found through the handle's opaque.
///
/// librdkafka calls the log callback from its own threads (it only reads the
/// immutable logger), and the error and rebalance callbacks from inside
/// `rd_kafka_poll`/`rd_kafka_consumer_poll` on the client's poll thread. The
/// closures are set before that thread starts and cleared only after the
/// handle is destroyed, or, for a consumer that could not close in time and is
/// left undestroyed, once nothing serves its queues any more: that is what makes
/// the unchecked `Sendable` sound.
final class RdKafkaCallbacks: @unchecked Sendable {
    let logger: Logger
    /// Called on the consumer's poll thread for every rebalance event.
    var onRebalance: ((OpaquePointer, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> Void)?
    /// Called on the poll thread with the result of every offset commit.
    var onCommit: ((rd_kafka_resp_err_t) -> Void)?
    /// Called on the poll thread for errors that are not tied to one message.
    var onError: ((KafkaError) -> Void)?

    init(logger: Logger) {
        self.logger = logger
    }

    static func from(_ rk: OpaquePointer?) -> RdKafkaCallbacks? {
        guard let rk, let opaque = rd_kafka_opaque(rk) else { return nil }
        return Unmanaged<RdKafkaCallbacks>.fromOpaque(opaque).takeUnretainedValue()
    }
}

/// An owned `rd_kafka_t` plus the callbacks object it points back to.
///
/// Created once per client at the module edge; every other type talks to
/// librdkafka through this handle. `destroy()` must be called exactly once,
/// by the client's own thread, after nothing else uses the pointer.
final class RdKafkaHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    let callbacks: RdKafkaCallbacks
    private let retainedCallbacks: Unmanaged<RdKafkaCallbacks>

    /// Builds the librdkafka configuration and the handle, reporting bad properties by name.
    init(
        type: rd_kafka_type_t,
        properties: [String: String],
        callbacks: RdKafkaCallbacks,
        context: String,
        configure: (OpaquePointer) -> Void = { _ in }
    ) throws(KafkaError) {
        guard let conf = rd_kafka_conf_new() else {
            throw KafkaError(code: .failure, message: "rd_kafka_conf_new failed", context: context)
        }
        var ownsConf = true
        defer { if ownsConf { rd_kafka_conf_destroy(conf) } }

        // Sorted so the first bad property reported is the same on every run.
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            var errorText = [CChar](repeating: 0, count: 512)
            let result = rd_kafka_conf_set(conf, key, value, &errorText, errorText.count)
            if result != RD_KAFKA_CONF_OK {
                let code: KafkaError.Code = result == RD_KAFKA_CONF_UNKNOWN ? .unknownProperty : .invalidValue
                let message = String(nulTerminated: errorText)
                throw KafkaError(
                    code: code,
                    message: message.isEmpty ? "invalid value \"\(value)\" for property \"\(key)\"" : message,
                    context: "KafkaConfiguration: \(key)",
                    isRetriable: false
                )
            }
        }

        rd_kafka_conf_set_log_cb(conf) { rk, level, facility, text in
            guard let callbacks = RdKafkaCallbacks.from(rk) else { return }
            let line = text.map { String(cString: $0) } ?? ""
            let facilityName = facility.map { String(cString: $0) } ?? ""
            callbacks.logger.log(
                level: Logger.Level(syslogLevel: level),
                "\(facilityName): \(line)",
                metadata: ["kafka.client": .string(rk.map { String(cString: rd_kafka_name($0)) } ?? "")]
            )
        }
        rd_kafka_conf_set_error_cb(conf) { rk, err, reason, _ in
            guard let callbacks = RdKafkaCallbacks.from(rk) else { return }
            var error = KafkaError(
                rd_kafka_resp_err_t(err),
                context: "librdkafka",
                message: reason.map { String(cString: $0) }
            )
            if err == RD_KAFKA_RESP_ERR__FATAL.rawValue, let rk {
                var text = [CChar](repeating: 0, count: 512)
                let original = rd_kafka_fatal_error(rk, &text, text.count)
                error = KafkaError(original, context: "librdkafka", message: String(nulTerminated: text))
                error.isFatal = true
            }
            callbacks.logger.warning("\(error)")
            callbacks.onError?(error)
        }
        configure(conf)

        let retained = Unmanaged.passRetained(callbacks)
        rd_kafka_conf_set_opaque(conf, retained.toOpaque())

        var errorText = [CChar](repeating: 0, count: 512)
        ownsConf = false  // rd_kafka_new takes the conf on success only.
        guard let rk = rd_kafka_new(type, conf, &errorText, errorText.count) else {
            ownsConf = true
            retained.release()
            throw KafkaError(
                code: .invalidArgument,
                message: String(nulTerminated: errorText),
                context: context,
                isRetriable: false
            )
        }
        self.pointer = rk
        self.callbacks = callbacks
        self.retainedCallbacks = retained
    }

    /// Destroys the handle and releases the callbacks; the pointer is dead afterwards.
    func destroy() {
        rd_kafka_destroy(pointer)
        retainedCallbacks.release()
    }

    /// The fatal error raised on this handle, if any.
    func fatalClientError(context: String) -> KafkaError? {
        var text = [CChar](repeating: 0, count: 512)
        let code = rd_kafka_fatal_error(pointer, &text, text.count)
        guard code != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        var error = KafkaError(code, context: context, message: String(nulTerminated: text))
        error.isFatal = true
        return error
    }
}

extension Logger.Level {
    /// The syslog level librdkafka should log up to for this swift-log level.
    var syslogLevel: Int {
        switch self {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// Maps librdkafka's syslog levels onto swift-log's.
    init(syslogLevel: Int32) {
        switch syslogLevel {
        case ...2: self = .critical
        case 3: self = .error
        case 4: self = .warning
        case 5: self = .notice
        case 6: self = .info
        default: self = .debug
        }
    }
}

extension String {
    /// Decodes a C `char` buffer filled by librdkafka up to its NUL terminator.
    init(nulTerminated chars: [CChar]) {
        self = String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A librdkafka pointer that may cross threads; librdkafka's handles are thread-safe.
struct RdKafkaPointer: @unchecked Sendable {
    let pointer: OpaquePointer
}

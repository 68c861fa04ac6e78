public import Foundation

/// The CloudEvents 1.0 attributes of a Kafka message in binary mode: everything
/// but the JSON payload, carried in headers.
///
/// Headers: `ce_specversion`, `ce_id`, `ce_source`, `ce_type`, `ce_time`,
/// `content-type`, the saga extensions `ce_sagaid`, `ce_sagatype`, `ce_sagastep`,
/// `ce_causationid`, and W3C `traceparent`. Other `ce_*` headers are kept as
/// extensions so nothing a producer sent is lost on the way through. Time is
/// passed in by the caller, never read here.
public struct MessageEnvelope: Sendable, Hashable {
    /// The only CloudEvents version this reads and writes.
    public static let specVersion = "1.0"
    /// The content type of every Skald payload.
    public static let json = "application/json"

    /// `ce_id`: unique per message; the inbox dedupes on it.
    public var id: String
    /// `ce_source`: who produced it, e.g. `skald/PlaceOrder` or `//orders-service`.
    public var source: String
    /// `ce_type`: the message type, e.g. `com.example.orders.OrderCreated`.
    public var type: String
    /// `ce_time`: when it was produced.
    public var time: Date?
    /// `content-type` of the payload.
    public var contentType: String?
    /// `ce_sagaid`: the saga the message belongs to.
    public var sagaId: String?
    /// `ce_sagatype`: the saga type.
    public var sagaType: String?
    /// `ce_sagastep`: the step a command or reply is about.
    public var sagaStep: String?
    /// `ce_causationid`: the id of the message that caused this one (a reply carries its command's id).
    public var causationId: String?
    /// W3C `traceparent`, passed through unchanged (dropped when malformed, as the W3C spec asks).
    public var traceparent: String?
    /// Other `ce_*` attributes, by name without the prefix.
    public var extensions: [String: String]

    /// An envelope with the required attributes and any optional ones.
    public init(
        id: String, source: String, type: String, time: Date? = nil, contentType: String? = MessageEnvelope.json,
        sagaId: String? = nil, sagaType: String? = nil, sagaStep: String? = nil, causationId: String? = nil,
        traceparent: String? = nil, extensions: [String: String] = [:]
    ) {
        self.id = id
        self.source = source
        self.type = type
        self.time = time.map(Timestamp.truncate)
        self.contentType = contentType
        self.sagaId = sagaId
        self.sagaType = sagaType
        self.sagaStep = sagaStep
        self.causationId = causationId
        self.traceparent = traceparent
        self.extensions = extensions
    }

    /// Whether the payload is JSON (`application/json`, with or without parameters, or unspecified).
    public var isJSON: Bool {
        guard let contentType else { return true }
        if contentType == MessageEnvelope.json { return true }  // what nearly every message says
        let media = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        return media == MessageEnvelope.json || media?.hasSuffix("+json") == true
    }

    /// The Kafka headers, in a fixed order.
    public func headers() -> [(name: String, value: [UInt8])] {
        var headers: [(name: String, value: [UInt8])] = []
        headers.reserveCapacity(11 + extensions.count)
        forEachHeader { name, value in headers.append((name, Array(value.utf8))) }
        return headers
    }

    /// Calls `body` with each Kafka header's name and text, in the order of ``headers()``,
    /// without building the array (the pump writes them straight into its outbox rows).
    public func forEachHeader(_ body: (_ name: String, _ value: String) throws -> Void) rethrows {
        try body("ce_specversion", Self.specVersion)
        try body("ce_id", id)
        try body("ce_source", source)
        try body("ce_type", type)
        if let time { try body("ce_time", Timestamp.format(time)) }
        if let contentType { try body("content-type", contentType) }
        if let sagaId { try body("ce_sagaid", sagaId) }
        if let sagaType { try body("ce_sagatype", sagaType) }
        if let sagaStep { try body("ce_sagastep", sagaStep) }
        if let causationId { try body("ce_causationid", causationId) }
        if let traceparent { try body("traceparent", traceparent) }
        for name in extensions.keys.sorted() {
            if let value = extensions[name] { try body("ce_\(name)", value) }
        }
    }

    /// Reads the envelope from Kafka headers; unknown non-`ce_` headers are ignored.
    ///
    /// Missing required attributes, a wrong spec version, a bad time, a header that
    /// is not UTF-8 or that appears twice with different values are errors naming
    /// the header.
    @inlinable
    public init(headers: some Sequence<(name: String, value: [UInt8])>) throws(EnvelopeError) {
        // Inlined, the loop is specialised for the caller's sequence instead of walking it
        // through witness tables; the work per header stays in the non-generic reader.
        var reader = HeaderReader()
        for (name, bytes) in headers { try reader.read(name: name, bytes: bytes) }
        self = try reader.envelope()
    }

    /// Reads an envelope one header at a time, from bytes where they lie: a consumer's
    /// packed headers are read without a `String` or an array for each name and value
    /// (only values the envelope keeps become strings).
    ///
    /// ```swift
    /// var reader = MessageEnvelope.HeaderReader()
    /// try headers.forEachRaw { name, value in try reader.read(name: name, value: value) }
    /// let envelope = try reader.envelope()
    /// ```
    ///
    /// The errors are those of ``init(headers:)``, which reads through it.
    public struct HeaderReader: Sendable {
        // A field per attribute rather than a dictionary, or an array allocated for every
        // message read.
        private var slots = Slots()
        private var extensions: [String: String] = [:]

        /// A reader that has seen no header yet.
        public init() {}

        /// Takes one header: `value` nil (a header without a value) reads as empty.
        public mutating func read(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>?) throws(EnvelopeError) {
            if let attribute = Attribute(lowercasedName: name) {
                // Nearly every message says `application/json`, one byte too long for a small
                // string: the constant spares an allocation per message.
                if attribute == .contentType, let value, Self.isJSON(value) {
                    try store(MessageEnvelope.json, in: attribute, header: name)
                } else {
                    try store(Self.text(value, header: name), in: attribute, header: name)
                }
                return
            }
            // Every attribute's name is lower case, so a name that matched has no capitals; only
            // one that did not is looked for them (and then lowered and tried again).
            var key = String(decoding: name, as: UTF8.self)
            if name.contains(where: { $0 >= 65 && $0 <= 90 }) {
                key = key.lowercased()
                if let attribute = key.withUTF8(Attribute.init(lowercasedName:)) {
                    try store(Self.text(value, header: name), in: attribute, header: name)
                    return
                }
            }
            guard key.hasPrefix("ce_") else { return }
            let text = try Self.text(value, header: name)
            let extensionName = String(key.dropFirst(3))
            if let existing = extensions[extensionName], existing != text {
                throw EnvelopeError(.duplicateHeader, header: String(decoding: name, as: UTF8.self), "appears twice with different values")
            }
            extensions[extensionName] = text
        }

        /// Takes one header given as a string and bytes.
        @usableFromInline
        mutating func read(name: String, bytes: [UInt8]) throws(EnvelopeError) {
            var name = name
            let failure: EnvelopeError? = name.withUTF8 { name in
                bytes.withUnsafeBufferPointer { value in
                    do throws(EnvelopeError) {
                        try read(name: name, value: value)
                        return nil
                    } catch {
                        return error
                    }
                }
            }
            if let failure { throw failure }
        }

        private mutating func store(
            _ text: String, in attribute: Attribute, header name: UnsafeBufferPointer<UInt8>
        ) throws(EnvelopeError) {
            if let existing = slots[attribute], existing != text {
                throw EnvelopeError(.duplicateHeader, header: String(decoding: name, as: UTF8.self), "appears twice with different values")
            }
            slots[attribute] = text
        }

        /// Whether `bytes` are ``MessageEnvelope/json``, read from the literal's own storage.
        private static func isJSON(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            MessageEnvelope.json.utf8.withContiguousStorageIfAvailable { json in
                json.count == bytes.count && memcmp(json.baseAddress!, bytes.baseAddress!, bytes.count) == 0
            } ?? false
        }

        /// The value as text; a value that is not UTF-8 is an error naming the header. Header
        /// values are nearly always ASCII, which needs no decoding: checking that first skips
        /// the general validator.
        private static func text(
            _ value: UnsafeBufferPointer<UInt8>?, header name: UnsafeBufferPointer<UInt8>
        ) throws(EnvelopeError) -> String {
            guard let value else { return "" }
            if value.allSatisfy({ $0 < 0x80 }) { return String(decoding: value, as: UTF8.self) }
            guard let text = String(validating: value, as: UTF8.self) else {
                throw EnvelopeError(.badHeader, header: String(decoding: name, as: UTF8.self), "the value is not UTF-8")
            }
            return text
        }

        /// The envelope, once every header is read.
        public func envelope() throws(EnvelopeError) -> MessageEnvelope {
            func required(_ attribute: Attribute) throws(EnvelopeError) -> String {
                guard let value = slots[attribute] else {
                    throw EnvelopeError(.missingHeader, header: attribute.rawValue, "is required")
                }
                guard !value.isEmpty else { throw EnvelopeError(.badHeader, header: attribute.rawValue, "must not be empty") }
                return value
            }
            func optional(_ attribute: Attribute) -> String? {
                slots[attribute].flatMap { $0.isEmpty ? nil : $0 }
            }
            let version = try required(.specVersion)
            guard version == MessageEnvelope.specVersion else {
                throw EnvelopeError(.badHeader, header: "ce_specversion", "is '\(version)'; only \(MessageEnvelope.specVersion) is supported")
            }
            // Required attributes before the time, so a message missing one is reported for that.
            let id = try required(.id)
            let source = try required(.source)
            let type = try required(.type)
            var time: Date?
            if let text = slots[.time] {
                guard let date = Timestamp.parse(text) else {
                    throw EnvelopeError(.badHeader, header: "ce_time", "'\(text)' is not an RFC 3339 timestamp")
                }
                time = date
            }
            var envelope = MessageEnvelope(
                id: id, source: source, type: type,
                contentType: slots[.contentType],
                sagaId: optional(.sagaId), sagaType: optional(.sagaType), sagaStep: optional(.sagaStep),
                causationId: optional(.causationId),
                // W3C trace context: a malformed traceparent is dropped, never a reason to reject the message.
                traceparent: slots[.traceparent].flatMap { MessageEnvelope.isValidTraceparent($0) ? $0 : nil },
                extensions: extensions
            )
            // Already at the envelope's precision (parsed from its own format): set, not truncated again.
            envelope.time = time
            return envelope
        }
    }

    /// The headers the envelope maps to fields of its own; other `ce_` headers are extensions.
    private enum Attribute: String {
        case specVersion = "ce_specversion"
        case id = "ce_id"
        case source = "ce_source"
        case type = "ce_type"
        case time = "ce_time"
        case contentType = "content-type"
        case sagaId = "ce_sagaid"
        case sagaType = "ce_sagatype"
        case sagaStep = "ce_sagastep"
        case causationId = "ce_causationid"
        case traceparent = "traceparent"

        /// The attribute named `name` (lower case), if any.
        ///
        /// Every header of every consumed message is looked up here. A switch on the length
        /// compares the name with at most three candidates; `init(rawValue:)` tried them all.
        init?(lowercasedName name: UnsafeBufferPointer<UInt8>) {
            // `memcmp` compares the bytes in one call, where the generic `elementsEqual` walked
            // them one by one. The switch has checked the length already; the test here folds
            // away, and keeps a wrong `case N` from matching a prefix.
            func matches(_ candidate: StaticString) -> Bool {
                candidate.utf8CodeUnitCount == name.count && memcmp(candidate.utf8Start, name.baseAddress!, name.count) == 0
            }
            switch name.count {
            case 5 where matches("ce_id"): self = .id
            case 7 where matches("ce_type"): self = .type
            case 7 where matches("ce_time"): self = .time
            case 9 where matches("ce_source"): self = .source
            case 9 where matches("ce_sagaid"): self = .sagaId
            case 11 where matches("ce_sagatype"): self = .sagaType
            case 11 where matches("ce_sagastep"): self = .sagaStep
            case 11 where matches("traceparent"): self = .traceparent
            case 12 where matches("content-type"): self = .contentType
            case 14 where matches("ce_specversion"): self = .specVersion
            case 14 where matches("ce_causationid"): self = .causationId
            default: return nil
            }
        }
    }

    /// The value read for each attribute, inline.
    private struct Slots {
        private var specVersion, id, source, type, time, contentType: String?
        private var sagaId, sagaType, sagaStep, causationId, traceparent: String?

        subscript(attribute: Attribute) -> String? {
            get {
                switch attribute {
                case .specVersion: specVersion
                case .id: id
                case .source: source
                case .type: type
                case .time: time
                case .contentType: contentType
                case .sagaId: sagaId
                case .sagaType: sagaType
                case .sagaStep: sagaStep
                case .causationId: causationId
                case .traceparent: traceparent
                }
            }
            set {
                switch attribute {
                case .specVersion: specVersion = newValue
                case .id: id = newValue
                case .source: source = newValue
                case .type: type = newValue
                case .time: time = newValue
                case .contentType: contentType = newValue
                case .sagaId: sagaId = newValue
                case .sagaType: sagaType = newValue
                case .sagaStep: sagaStep = newValue
                case .causationId: causationId = newValue
                case .traceparent: traceparent = newValue
                }
            }
        }
    }

    static func isValidTraceparent(_ text: String) -> Bool {
        // version "-" trace-id "-" parent-id "-" flags, lower-case hex; a future version may append fields.
        let bytes = Array(text.utf8)
        guard bytes.count >= 55, bytes[2] == 45, bytes[35] == 45, bytes[52] == 45,
            bytes.count == 55 || bytes[55] == 45
        else { return false }
        func isHex(_ range: Range<Int>) -> Bool {
            bytes[range].allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
        }
        func isZero(_ range: Range<Int>) -> Bool { bytes[range].allSatisfy { $0 == 48 } }
        guard isHex(0..<2), isHex(3..<35), isHex(36..<52), isHex(53..<55) else { return false }
        return !(bytes[0] == 102 && bytes[1] == 102) && !isZero(3..<35) && !isZero(36..<52)
    }
}

/// A Kafka message's headers do not make a valid envelope.
public struct EnvelopeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem.
    public enum Code: String, Sendable, Hashable {
        /// A required header is absent.
        case missingHeader = "missing-header"
        /// A header's value is malformed.
        case badHeader = "bad-header"
        /// A header appears twice with different values.
        case duplicateHeader = "duplicate-header"
    }

    /// What kind of problem.
    public let code: Code
    /// The header at fault.
    public let header: String
    /// What is wrong.
    public let message: String

    /// An error about `header`.
    public init(_ code: Code, header: String, _ message: String) {
        self.code = code
        self.header = header
        self.message = message
    }

    /// `header ce_time: '…' is not an RFC 3339 timestamp (bad-header)`.
    public var description: String { "header \(header) \(message) (\(code.rawValue))" }
}

extension OutgoingCommand {
    /// The envelope to publish this command with: `ce_id` is the deterministic command id.
    public func envelope(source: String, time: Date, traceparent: String? = nil) -> MessageEnvelope {
        MessageEnvelope(
            id: id, source: source, type: messageType, time: time, sagaId: key, sagaType: sagaType, sagaStep: step,
            causationId: causationId, traceparent: traceparent)
    }
}

extension IncomingMessage {
    /// A message as it arrived: its envelope and its decoded payload.
    public init(envelope: MessageEnvelope, payload: Payload) {
        self.init(
            messageType: envelope.type, messageId: envelope.id, step: envelope.sagaStep,
            causationId: envelope.causationId, payload: payload)
    }
}

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
        let media = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        return media == MessageEnvelope.json || media?.hasSuffix("+json") == true
    }

    /// The Kafka headers, in a fixed order.
    public func headers() -> [(name: String, value: [UInt8])] {
        var headers: [(name: String, value: [UInt8])] = []
        func add(_ name: String, _ value: String?) {
            if let value { headers.append((name, Array(value.utf8))) }
        }
        add("ce_specversion", Self.specVersion)
        add("ce_id", id)
        add("ce_source", source)
        add("ce_type", type)
        add("ce_time", time.map(Timestamp.format))
        add("content-type", contentType)
        add("ce_sagaid", sagaId)
        add("ce_sagatype", sagaType)
        add("ce_sagastep", sagaStep)
        add("ce_causationid", causationId)
        add("traceparent", traceparent)
        for name in extensions.keys.sorted() { add("ce_\(name)", extensions[name]) }
        return headers
    }

    /// Reads the envelope from Kafka headers; unknown non-`ce_` headers are ignored.
    ///
    /// Missing required attributes, a wrong spec version, a bad time, a header that
    /// is not UTF-8 or that appears twice with different values are errors naming
    /// the header.
    public init(headers: some Sequence<(name: String, value: [UInt8])>) throws(EnvelopeError) {
        var values: [String: String] = [:]
        for (name, bytes) in headers {
            let key = name.lowercased()
            guard key.hasPrefix("ce_") || key == "content-type" || key == "traceparent" else { continue }
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw EnvelopeError(.badHeader, header: name, "the value is not UTF-8")
            }
            if let existing = values[key], existing != text {
                throw EnvelopeError(.duplicateHeader, header: name, "appears twice with different values")
            }
            values[key] = text
        }
        func required(_ name: String) throws(EnvelopeError) -> String {
            guard let value = values[name] else { throw EnvelopeError(.missingHeader, header: name, "is required") }
            guard !value.isEmpty else { throw EnvelopeError(.badHeader, header: name, "must not be empty") }
            return value
        }
        let version = try required("ce_specversion")
        guard version == Self.specVersion else {
            throw EnvelopeError(.badHeader, header: "ce_specversion", "is '\(version)'; only \(Self.specVersion) is supported")
        }
        id = try required("ce_id")
        source = try required("ce_source")
        type = try required("ce_type")
        if let text = values["ce_time"] {
            guard let date = Timestamp.parse(text) else {
                throw EnvelopeError(.badHeader, header: "ce_time", "'\(text)' is not an RFC 3339 timestamp")
            }
            time = date
        } else {
            time = nil
        }
        contentType = values["content-type"]
        sagaId = values["ce_sagaid"].flatMap { $0.isEmpty ? nil : $0 }
        sagaType = values["ce_sagatype"].flatMap { $0.isEmpty ? nil : $0 }
        sagaStep = values["ce_sagastep"].flatMap { $0.isEmpty ? nil : $0 }
        causationId = values["ce_causationid"].flatMap { $0.isEmpty ? nil : $0 }
        // W3C trace context: a malformed traceparent is dropped, never a reason to reject the message.
        traceparent = values["traceparent"].flatMap { Self.isValidTraceparent($0) ? $0 : nil }
        let known: Set<String> = [
            "ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_sagaid", "ce_sagatype", "ce_sagastep",
            "ce_causationid",
        ]
        var extensions: [String: String] = [:]
        for (key, value) in values where key.hasPrefix("ce_") && !known.contains(key) {
            extensions[String(key.dropFirst(3))] = value
        }
        self.extensions = extensions
    }

    /// `version-traceid-parentid-flags`, lowercase hex, ids not all zero.
    static func isValidTraceparent(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].count == 2, parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
            parts[0] != "ff"
        else { return false }
        let hex = Set("0123456789abcdef")
        for part in parts.prefix(4) where !part.allSatisfy(hex.contains) { return false }
        return parts[1].contains { $0 != "0" } && parts[2].contains { $0 != "0" }
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

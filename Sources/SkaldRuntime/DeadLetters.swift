import Foundation
import SkaldKafka
import SkaldPostgres

/// Builds the dead-letter copy of a message: the original key, value and headers,
/// plus why it could not be handled and where it came from; and its `dead_letters` row.
enum DeadLetters {
    /// The default dead-letter topic.
    static let topic = "skald.dead-letter"

    /// About how many bytes of keys and payloads one recording statement carries (hex doubles them).
    static let recordChunkBytes = 4 << 20

    /// The headers the dead-letter copy adds; a redrive leaves them out.
    static let addedHeaders: Set<String> = [
        "skald_dlq_reason", "skald_dlq_topic", "skald_dlq_partition", "skald_dlq_offset", "skald_dlq_payload_dropped",
    ]

    static func message(for original: KafkaMessage, reason: String, topic: String) -> KafkaOutgoingMessage {
        var headers = original.headers
        headers.append(KafkaHeader(name: "skald_dlq_reason", value: reason))
        headers.append(KafkaHeader(name: "skald_dlq_topic", value: original.topic))
        headers.append(KafkaHeader(name: "skald_dlq_partition", value: String(original.partition)))
        headers.append(KafkaHeader(name: "skald_dlq_offset", value: String(original.offset)))
        return KafkaOutgoingMessage(topic: topic, key: original.key, value: original.value, headers: headers)
    }

    /// Records dead letters in `dead_letters`; one already recorded (its source offset) is skipped.
    /// `$1`: `[{source_topic, source_partition, source_offset, reason, message_key, payload, headers, message_id, message_type, saga_id}, …]`,
    /// key and payload in hex.
    static let recordSQL = """
        INSERT INTO dead_letters (source_topic, source_partition, source_offset, reason, message_key, payload, headers,
                                  message_id, message_type, saga_id)
        SELECT x.source_topic, x.source_partition, x.source_offset, x.reason, decode(x.message_key, 'hex'),
               decode(x.payload, 'hex'), x.headers, x.message_id, x.message_type, x.saga_id
        FROM json_to_recordset($1::json) AS x(
            source_topic text, source_partition integer, source_offset bigint, reason text, message_key text, payload text,
            headers json, message_id text, message_type text, saga_id text)
        ON CONFLICT (source_topic, source_partition, source_offset) DO NOTHING
        """

    /// The `dead_letters` rows of `letters`, for ``recordSQL``.
    static func records(_ letters: [(message: KafkaMessage, reason: String)]) -> JSONRecords {
        var records = JSONRecords()
        for (message, reason) in letters {
            func header(_ name: String) -> String? {
                message.headers.first(named: name).map { text(String(decoding: $0, as: UTF8.self)) }
            }
            let headers = message.headers.map { [text($0.name), text(String(decoding: $0.value ?? [], as: UTF8.self))] }
            records.beginRecord()
            records.field("source_topic", text(message.topic))
            records.field("source_partition", Int(message.partition))
            records.field("source_offset", Int(message.offset))
            records.field("reason", text(reason))
            records.field("message_key", message.key.map(hex))
            records.field("payload", hex(message.value))
            records.field("headers", json: (try? JSONEncoder().encode(headers)).map { Array($0) } ?? Array("[]".utf8))
            records.field("message_id", header("ce_id"))
            records.field("message_type", header("ce_type"))
            records.field("saga_id", header("ce_sagaid"))
            records.endRecord()
        }
        return records
    }

    /// Text Postgres stores: it has no NUL character (a message id with one is how some
    /// messages end here), so each becomes U+FFFD.
    static func text(_ value: String) -> String {
        value.contains("\u{0}") ? value.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : value
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

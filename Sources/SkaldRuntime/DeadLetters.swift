import Foundation
import SkaldKafka

/// Builds the dead-letter copy of a message: the original key, value and headers,
/// plus why it could not be handled and where it came from.
enum DeadLetters {
    /// The default dead-letter topic.
    static let topic = "skald.dead-letter"

    static func message(for original: KafkaMessage, reason: String, topic: String) -> KafkaOutgoingMessage {
        var headers = original.headers
        headers.append(KafkaHeader(name: "skald_dlq_reason", value: reason))
        headers.append(KafkaHeader(name: "skald_dlq_topic", value: original.topic))
        headers.append(KafkaHeader(name: "skald_dlq_partition", value: String(original.partition)))
        headers.append(KafkaHeader(name: "skald_dlq_offset", value: String(original.offset)))
        return KafkaOutgoingMessage(topic: topic, key: original.key, value: original.value, headers: headers)
    }
}

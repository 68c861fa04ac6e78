public import Foundation
import Skald

extension JSONEncoder {
    /// An encoder for the saga views (``SagaSummary``, ``SagaDetail``, ``SagaTimelineEntry``…) as
    /// the admin API and `skald sagas --json` write them: sorted keys, and instants as the event
    /// log writes them (RFC 3339, microseconds, UTC).
    public static func sagaViews(pretty: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.format(date))
        }
        return encoder
    }
}

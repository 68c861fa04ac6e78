public import Foundation

/// Where a saga's time goes within a step: each command's way from the orchestrator's decision
/// to send it to the orchestrator's decision on its reply, split where the service's
/// transaction handling the command began.
///
/// The command leg is the orchestrator's whole transaction (it decides, writes and commits),
/// its outbox relay, Kafka, and the service's consumer and batching up to its transaction's
/// start; the reply leg is the service's transaction, its relay, Kafka, and the orchestrator's
/// consumer and pump up to its next decision. A reply's decision and the next command it sends
/// share one moment, so a completed PlaceOrder saga's latency is the sum of its five round trips.
///
/// The legs cross two clocks: the orchestrator process's (its events' `recorded_at`) and the
/// services' Postgres server's (their inboxes' `received_at`). They are one clock when both run
/// on one machine, as in the demo with its own Postgres; otherwise the split shifts by the
/// clocks' skew, and the round trip does not.
public struct StepRoundTrips: Sendable, Equatable {
    /// One command's three moments.
    public struct Sample: Sendable, Equatable {
        /// When the orchestrator decided to send the command (its `command-sent` event).
        public var sent: Date
        /// When the service's transaction handling it began (its inbox row).
        public var handled: Date
        /// When the orchestrator decided on the reply (the step's next event).
        public var replied: Date

        /// Creates a sample.
        public init(sent: Date, handled: Date, replied: Date) {
            self.sent = sent
            self.handled = handled
            self.replied = replied
        }
    }

    /// Commands measured: sent, handled by their service, and answered.
    public var commands: Int
    /// The round trips' median, in milliseconds.
    public var roundTripP50: Double
    /// The round trips' 99th percentile, in milliseconds.
    public var roundTripP99: Double
    /// The command legs' median, in milliseconds.
    public var commandLegP50: Double
    /// The reply legs' median, in milliseconds. The two legs' medians need not add up to the
    /// round trips' median.
    public var replyLegP50: Double

    /// The medians of `samples`, and the round trips' 99th percentile; nil without any.
    public init?(samples: [Sample]) {
        guard !samples.isEmpty else { return nil }
        func milliseconds(_ from: Date, _ to: Date) -> Double { to.timeIntervalSince(from) * 1000 }
        let roundTrips = samples.map { milliseconds($0.sent, $0.replied) }.sorted()
        commands = samples.count
        roundTripP50 = ConsistencyCheck.percentile(roundTrips, 0.50)
        roundTripP99 = ConsistencyCheck.percentile(roundTrips, 0.99)
        commandLegP50 = ConsistencyCheck.percentile(samples.map { milliseconds($0.sent, $0.handled) }.sorted(), 0.50)
        replyLegP50 = ConsistencyCheck.percentile(samples.map { milliseconds($0.handled, $0.replied) }.sorted(), 0.50)
    }

    /// The summary's line, without its label.
    public var summary: String {
        String(
            format: "p50 %.1f ms, p99 %.1f ms over %d commands; p50 %.1f ms to the service's transaction, %.1f ms from there to the orchestrator's decision on the reply",
            roundTripP50, roundTripP99, commands, commandLegP50, replyLegP50)
    }
}

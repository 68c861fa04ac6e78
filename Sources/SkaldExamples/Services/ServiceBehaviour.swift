/// How an example service misbehaves on purpose, for demos and tests.
///
/// Every choice is deterministic (a stable hash of a key the service picks), so a
/// command delivered twice, or a service restarted mid-run, decides the same way.
public struct ServiceBehaviour: Sendable, Hashable {
    /// The share of commands (0…1) answered with the service's failure reply.
    ///
    /// The payment service declines this share of payments; the notification service
    /// fails this share of attempts (a retry may then succeed); compensations never fail.
    public var failureRate: Double
    /// How long each command takes before it is handled.
    public var delay: Duration
    /// When set the service applies commands but sends no reply (a participant gone quiet).
    public var silent: Bool

    /// A well-behaved service unless told otherwise.
    public init(failureRate: Double = 0, delay: Duration = .zero, silent: Bool = false) {
        self.failureRate = min(1, max(0, failureRate))
        self.delay = delay
        self.silent = silent
    }

    /// Whether the command keyed by `key` fails: the same key always gives the same answer.
    public func fails(_ key: String) -> Bool {
        guard failureRate > 0 else { return false }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return Double(hash % 10_000) < failureRate * 10_000
    }
}

/// How often, and how far apart, a step's command (or a compensation) is sent again.
///
/// Backoff is exponential with a cap; jitter spreads retries of many sagas apart
/// but is derived from the saga id, step and attempt (FNV-1a), never from a random
/// source, so a replay computes the very same due times.
public struct RetryPolicy: Sendable, Hashable, Codable {
    /// Total attempts including the first; 1 means "never retry".
    public var maxAttempts: Int
    /// Delay before the second attempt.
    public var initialDelay: Duration
    /// Each further delay is the previous one times this factor.
    public var multiplier: Double
    /// No delay exceeds this.
    public var maxDelay: Duration
    /// Fraction of the delay (0...1) that may be shaved off to spread retries.
    public var jitter: Double

    /// An exponential backoff policy.
    public init(
        maxAttempts: Int,
        initialDelay: Duration = .seconds(1),
        multiplier: Double = 2,
        maxDelay: Duration = .seconds(60),
        jitter: Double = 0.2
    ) {
        self.maxAttempts = maxAttempts
        self.initialDelay = initialDelay
        self.multiplier = multiplier
        self.maxDelay = maxDelay
        self.jitter = jitter
    }

    /// Exponential backoff: `.exponential(maxAttempts: 5, initial: .seconds(1))`.
    public static func exponential(
        maxAttempts: Int,
        initial: Duration = .seconds(1),
        multiplier: Double = 2,
        max: Duration = .seconds(60),
        jitter: Double = 0.2
    ) -> RetryPolicy {
        RetryPolicy(maxAttempts: maxAttempts, initialDelay: initial, multiplier: multiplier, maxDelay: max, jitter: jitter)
    }

    /// A single attempt, no retry.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// The default for forward steps: three attempts, 1 s then 2 s apart.
    public static let standard = RetryPolicy(maxAttempts: 3)

    /// The default for retriable steps and compensations: ten attempts up to a minute apart.
    public static let persistent = RetryPolicy(maxAttempts: 10)

    /// The wait before attempt `nextAttempt` (2 or more) of `step` in saga `sagaId`.
    public func delay(beforeAttempt nextAttempt: Int, sagaId: String, step: String) -> Duration {
        let exponent = Double(max(0, nextAttempt - 2))
        let initialSeconds = initialDelay.seconds
        let capped = min(initialSeconds * pow(multiplier, exponent), maxDelay.seconds)
        let fraction = Double(FNV1a.hash(sagaId, step, nextAttempt) >> 11) / Double(1 << 53)
        let jittered = capped * (1 - min(max(jitter, 0), 1) * fraction)
        return .microseconds(Int64(max(jittered, 0) * 1_000_000))
    }

    private func pow(_ base: Double, _ exponent: Double) -> Double {
        var result = 1.0
        var remaining = Int(exponent)
        while remaining > 0 && result < 1e12 {
            result *= base
            remaining -= 1
        }
        return result
    }
}

extension Duration {
    /// The duration in seconds as a `Double`.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// The 64-bit FNV-1a hash: stable across processes and platforms, unlike `Hasher`.
enum FNV1a {
    static let offset: UInt64 = 0xcbf2_9ce4_8422_2325
    static let prime: UInt64 = 0x100_0000_01b3

    static func hash(_ sagaId: String, _ step: String, _ attempt: Int) -> UInt64 {
        var hash = offset
        for byte in sagaId.utf8 { hash = (hash ^ UInt64(byte)) &* prime }
        hash = (hash ^ 0x1f) &* prime
        for byte in step.utf8 { hash = (hash ^ UInt64(byte)) &* prime }
        hash = (hash ^ 0x1f) &* prime
        var value = UInt64(truncatingIfNeeded: attempt)
        for _ in 0..<8 {
            hash = (hash ^ (value & 0xff)) &* prime
            value >>= 8
        }
        // Final avalanche so nearby attempts give unrelated fractions.
        hash ^= hash >> 33
        hash = hash &* 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        return hash
    }
}

/// The state machine of one participant's circuit breaker: closed, open, half-open.
///
/// Closed, every command goes out. When, within `window`, at least `failureThreshold`
/// steps time out and they are at least half of the outcomes seen, the breaker opens:
/// new commands to the participant wait in the outbox instead of piling up on a
/// service that is not answering (their sagas keep running; deadlines still apply).
/// After `cooldown` it lets `probes` commands through (half-open); a reply closes it,
/// another timeout opens it again. Time is passed in, so the machine is pure.
public struct CircuitBreaker: Sendable, Equatable {
    /// Where the breaker stands.
    public enum State: Sendable, Equatable {
        /// Commands flow.
        case closed
        /// Commands wait until the instant, in nanoseconds of the caller's clock.
        case open(until: UInt64)
        /// Up to this many more probe commands may go out.
        case halfOpen(probesLeft: Int)
    }

    /// When to open, and how to probe.
    public struct Policy: Sendable, Equatable {
        /// Timeouts within the window that open the breaker.
        public var failureThreshold: Int
        /// How far back outcomes count.
        public var window: Duration
        /// How long the breaker stays open before probing.
        public var cooldown: Duration
        /// Commands let through while half-open.
        public var probes: Int

        /// The defaults: 20 timeouts (and at least half of the outcomes) in 30 s open it for 10 s, then 5 probes.
        public init(failureThreshold: Int = 20, window: Duration = .seconds(30), cooldown: Duration = .seconds(10), probes: Int = 5) {
            self.failureThreshold = max(1, failureThreshold)
            self.window = window
            self.cooldown = cooldown
            self.probes = max(1, probes)
        }
    }

    /// The policy.
    public let policy: Policy
    /// The current state.
    public private(set) var state: State = .closed
    private var windowStart: UInt64 = 0
    private var failures = 0
    private var successes = 0

    /// A closed breaker.
    public init(policy: Policy = Policy()) {
        self.policy = policy
    }

    /// A step sent to this participant timed out.
    public mutating func recordFailure(now: UInt64) {
        switch state {
        case .halfOpen:
            open(now: now)
        case .open:
            break
        case .closed:
            roll(now: now)
            failures += 1
            if failures >= policy.failureThreshold && failures * 2 >= failures + successes {
                open(now: now)
            }
        }
    }

    /// The participant answered.
    public mutating func recordSuccess(now: UInt64) {
        switch state {
        case .halfOpen, .open:
            // A reply to a probe, or to a command sent before the breaker opened: it is alive.
            state = .closed
            windowStart = now
            failures = 0
            successes = 1
        case .closed:
            roll(now: now)
            successes += 1
        }
    }

    /// How many commands may go out now: `nil` for no limit, 0 while open.
    public mutating func allowance(now: UInt64) -> Int? {
        switch state {
        case .closed:
            return nil
        case .open(let until):
            guard now >= until else { return 0 }
            state = .halfOpen(probesLeft: policy.probes)
            return policy.probes
        case .halfOpen(let left):
            return left
        }
    }

    /// `count` probe commands went out.
    public mutating func spend(_ count: Int) {
        if case .halfOpen(let left) = state {
            state = .halfOpen(probesLeft: max(0, left - count))
        }
    }

    private mutating func open(now: UInt64) {
        state = .open(until: now &+ Self.nanoseconds(policy.cooldown))
        failures = 0
        successes = 0
        windowStart = now
    }

    private mutating func roll(now: UInt64) {
        if now &- windowStart > Self.nanoseconds(policy.window) {
            windowStart = now
            failures = 0
            successes = 0
        }
    }

    static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        return UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }
}

import Foundation
public import Logging
import Metrics
import Synchronization

/// One ``CircuitBreaker`` per participant command topic, shared by the pump (replies
/// close it), the timer service (step timeouts open it) and the outbox relay (which
/// holds back commands to an open topic).
///
/// Each orchestrator process keeps its own breakers: a process sees the timeouts and
/// replies of the sagas it runs, which is the load it would otherwise pile on.
public final class ParticipantBreakers: Sendable {
    private let policy: CircuitBreaker.Policy
    private let breakers = Mutex<[String: CircuitBreaker]>([:])
    private let logger: Logger
    private let clock = ContinuousClock()
    private let origin: ContinuousClock.Instant

    /// Breakers that open by `policy`.
    public init(policy: CircuitBreaker.Policy = CircuitBreaker.Policy(), logger: Logger = Logger(label: "skald.breakers")) {
        self.policy = policy
        self.logger = logger
        self.origin = clock.now
    }

    private var now: UInt64 { CircuitBreaker.nanoseconds(clock.now - origin) }

    /// A command to `topic` timed out.
    public func recordTimeout(topic: String) {
        let now = self.now
        let (before, after) = breakers.withLock { breakers -> (CircuitBreaker.State, CircuitBreaker.State) in
            var breaker = breakers[topic] ?? CircuitBreaker(policy: policy)
            let before = breaker.state
            breaker.recordFailure(now: now)
            breakers[topic] = breaker
            return (before, breaker.state)
        }
        report(topic: topic, before: before, after: after)
    }

    /// The participant behind `topic` answered.
    public func recordReply(topic: String) {
        let now = self.now
        let change = breakers.withLock { breakers -> (CircuitBreaker.State, CircuitBreaker.State)? in
            guard var breaker = breakers[topic] else { return nil }
            let before = breaker.state
            breaker.recordSuccess(now: now)
            breakers[topic] = breaker
            return (before, breaker.state)
        }
        if let (before, after) = change { report(topic: topic, before: before, after: after) }
    }

    /// What the relay may send now: topics to hold back entirely, and per-topic probe budgets.
    func allowances() -> (blocked: [String], probes: [String: Int]) {
        let now = self.now
        return breakers.withLock { breakers in
            var blocked: [String] = []
            var probes: [String: Int] = [:]
            for topic in breakers.keys {
                switch breakers[topic]?.allowance(now: now) {
                case 0?: blocked.append(topic)
                case let count?: probes[topic] = count
                case nil: break
                }
            }
            return (blocked, probes)
        }
    }

    /// Probe commands to `topic` went out.
    func spend(_ count: Int, topic: String) {
        breakers.withLock { breakers in breakers[topic]?.spend(count) }
    }

    /// The state of every topic's breaker, for the admin API and tests.
    public var states: [String: CircuitBreaker.State] {
        breakers.withLock { $0.mapValues(\.state) }
    }

    private func report(topic: String, before: CircuitBreaker.State, after: CircuitBreaker.State) {
        let wasOpen = if case .open = before { true } else { false }
        let isOpen = if case .open = after { true } else { false }
        guard wasOpen != isOpen || (before == .closed) != (after == .closed) else { return }
        Gauge(label: "skald_participant_circuit_open", dimensions: [("topic", topic)]).record(isOpen ? 1 : 0)
        if isOpen {
            logger.warning("participant circuit open: commands wait in the outbox", metadata: ["topic": "\(topic)"])
        } else if after == .closed {
            logger.notice("participant circuit closed", metadata: ["topic": "\(topic)"])
        }
    }
}

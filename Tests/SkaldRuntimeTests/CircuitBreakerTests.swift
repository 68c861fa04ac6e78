import SkaldRuntime
import Testing

@Suite("Circuit breaker state machine")
struct CircuitBreakerTests {
    let policy = CircuitBreaker.Policy(failureThreshold: 3, window: .seconds(10), cooldown: .seconds(2), probes: 2)
    let second: UInt64 = 1_000_000_000

    @Test("timeouts past the threshold open it; nothing goes out while open")
    func opensOnTimeouts() {
        var breaker = CircuitBreaker(policy: policy)
        breaker.recordFailure(now: 0)
        breaker.recordFailure(now: 1)
        #expect(breaker.allowance(now: 2) == nil)
        breaker.recordFailure(now: 3)
        #expect(breaker.state == .open(until: 3 + 2 * second))
        #expect(breaker.allowance(now: second) == 0)
    }

    @Test("mostly successful traffic does not open it")
    func ratioMatters() {
        var breaker = CircuitBreaker(policy: policy)
        for tick in 0..<10 { breaker.recordSuccess(now: UInt64(tick)) }
        for tick in 10..<15 { breaker.recordFailure(now: UInt64(tick)) }
        #expect(breaker.state == .closed)
    }

    @Test("old timeouts fall out of the window")
    func windowRolls() {
        var breaker = CircuitBreaker(policy: policy)
        breaker.recordFailure(now: 0)
        breaker.recordFailure(now: 1)
        breaker.recordFailure(now: 11 * second)
        #expect(breaker.state == .closed)
    }

    @Test("after the cooldown a few probes go; a reply closes it, a timeout opens it again")
    func halfOpenProbes() {
        var breaker = CircuitBreaker(policy: policy)
        for tick in 0..<3 { breaker.recordFailure(now: UInt64(tick)) }
        #expect(breaker.allowance(now: 3 * second) == 2)
        breaker.spend(2)
        #expect(breaker.allowance(now: 3 * second) == 0)
        breaker.recordFailure(now: 4 * second)
        #expect(breaker.state == .open(until: 6 * second))
        #expect(breaker.allowance(now: 6 * second) == 2)
        breaker.recordSuccess(now: 6 * second + 1)
        #expect(breaker.state == .closed)
        #expect(breaker.allowance(now: 6 * second + 2) == nil)
    }
}

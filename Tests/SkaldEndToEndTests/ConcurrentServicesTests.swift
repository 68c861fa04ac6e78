import Logging
import ServiceLifecycle
import SkaldExamples
import SkaldTestSupport
import Synchronization
import Testing

/// The example services are stopped together, not one after another.
@Suite("ConcurrentServices: run side by side, stopped together")
struct ConcurrentServicesTests {
    /// Counts the services that started and those that heard the stop.
    final class Tally: Sendable {
        let started = Atomic<Int>(0)
        let stopping = Atomic<Int>(0)
        /// Whether every service heard the stop before its wait ran out.
        let allMet = Atomic<Bool>(true)
    }

    /// Hears the stop, then waits for all `count` services to have heard it: a service that
    /// only hears of the stop once another has finished never arrives.
    struct Rendezvous: Service, CustomStringConvertible {
        let tally: Tally
        let count: Int
        let patience: Duration
        var description: String { "Rendezvous" }

        func run() async throws {
            tally.started.add(1, ordering: .relaxed)
            try? await gracefulShutdown()
            tally.stopping.add(1, ordering: .relaxed)
            let deadline = ContinuousClock.now.advanced(by: patience)
            while tally.stopping.load(ordering: .relaxed) < count {
                guard ContinuousClock.now < deadline else {
                    tally.allMet.store(false, ordering: .relaxed)
                    return
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    static func stop(_ services: [any Service], tally: Tally, count: Int) async throws {
        let group = ServiceGroup(services: services, logger: e2eLogger)
        let running = Task { try await group.run() }
        // A shutdown asked for before the group runs would skip the services altogether.
        try await eventually("every service started") {
            let started = tally.started.load(ordering: .relaxed)
            return started == count
        }
        await group.triggerGracefulShutdown()
        try await running.value
    }

    @Test("every service hears a graceful stop at once", .timeLimit(.minutes(1)))
    func stoppedTogether() async throws {
        let tally = Tally()
        let services = (0..<4).map { _ in Rendezvous(tally: tally, count: 4, patience: .seconds(30)) }
        try await Self.stop([ConcurrentServices(services)], tally: tally, count: 4)
        let stopping = tally.stopping.load(ordering: .relaxed)
        let allMet = tally.allMet.load(ordering: .relaxed)
        #expect(stopping == 4)
        #expect(allMet, "a service heard of the stop only after another had finished")
    }

    @Test("why it exists: a ServiceGroup stops its services one after another", .timeLimit(.minutes(1)))
    func serviceGroupStopsInTurn() async throws {
        let tally = Tally()
        let services = (0..<2).map { _ in Rendezvous(tally: tally, count: 2, patience: .milliseconds(500)) }
        try await Self.stop(services, tally: tally, count: 2)
        let stopping = tally.stopping.load(ordering: .relaxed)
        let allMet = tally.allMet.load(ordering: .relaxed)
        #expect(stopping == 2)
        #expect(!allMet, "the last service stopped first, alone")
    }

    /// Returns at once, as a service that has nothing left to do would.
    struct Quitter: Service, CustomStringConvertible {
        var description: String { "Quitter" }
        func run() async throws {}
    }

    @Test("a service that returns before a stop ends the run with an error naming it, as in a ServiceGroup", .timeLimit(.minutes(1)))
    func finishedEarly() async throws {
        let tally = Tally()
        let waiting = Rendezvous(tally: tally, count: 1, patience: .seconds(30))
        let group = ServiceGroup(services: [ConcurrentServices([waiting, Quitter()])], logger: e2eLogger)
        await #expect {
            try await group.run()
        } throws: { error in
            "\(error)".contains("Quitter returned before a graceful shutdown")
        }
    }
}

import Foundation
import Skald
import SkaldTestSupport

// Messages and random definitions for the property tests.

struct PStart: SagaMessage {
    static let messageType = "test.PStart"
    var flags: Int
}

struct PCommand: SagaMessage {
    static let messageType = "test.PCommand"
    var step: String
}

struct PUndo: SagaMessage {
    static let messageType = "test.PUndo"
    var step: String
}

struct POk: SagaMessage {
    static let messageType = "test.POk"
    var note: Int
}

struct PFail: SagaMessage { static let messageType = "test.PFail" }
struct PBusy: SagaMessage { static let messageType = "test.PBusy" }
struct PUndone: SagaMessage { static let messageType = "test.PUndone" }
struct PUndoRefused: SagaMessage { static let messageType = "test.PUndoRefused" }

struct PState: Codable, Sendable, Equatable {
    var flags: Int
    var log: [String] = []
    var total = 0
}

enum PropertyModel {
    /// A random but well-formed definition: compensatable nodes (some parallel, some
    /// conditional), maybe a pivot, then retriable nodes.
    static func definition(seed: UInt64) -> SagaDefinition<PState> {
        var random = SplitMix64(seed: seed)
        var elements: [SagaElement<PState>] = []
        var counter = 0
        var flagBit = 0

        func makeStep(_ kind: StepKind) -> Step<PState> {
            counter += 1
            let name = "s\(counter)"
            var step: Step<PState>
            if kind == .compensatable {
                step = Step(name, kind: kind) {
                    Command(to: "svc.commands") { _ in PCommand(step: name) }
                    OnSuccess(POk.self) { state, reply in
                        state.log.append(name)
                        state.total += reply.note
                    }
                    OnFailure(PFail.self) { state, _ in state.log.append("!\(name)") }
                    OnFailure(PBusy.self, retryable: true)
                    Compensation(to: "svc.commands", confirmedBy: PUndone.self, rejectedBy: PUndoRefused.self) { _ in
                        PUndo(step: name)
                    }
                }
            } else {
                step = Step(name, kind: kind) {
                    Command(to: "svc.commands") { _ in PCommand(step: name) }
                    OnSuccess(POk.self) { state, reply in
                        state.log.append(name)
                        state.total += reply.note
                    }
                    OnFailure(PFail.self) { state, _ in state.log.append("!\(name)") }
                    OnFailure(PBusy.self, retryable: true)
                }
            }
            step = step.timeout(.seconds(Int64(1 + random.below(10))))
            step = step.retry(.exponential(maxAttempts: 1 + random.below(kind == .retriable ? 4 : 3), initial: .seconds(1)))
            if random.chance(20) {
                let bit = flagBit % 8
                flagBit += 1
                step = step.when { state in state.flags & (1 << bit) != 0 }
            }
            return step
        }
        func addNodes(_ count: Int, _ kind: StepKind) {
            for _ in 0..<count {
                if random.chance(30) {
                    counter += 1
                    let group = "g\(counter)"
                    let branches = (0..<(2 + random.below(2))).map { _ in makeStep(kind) }
                    elements.append(SagaElement(parallel: group, branches))
                } else {
                    elements.append(SagaElement(makeStep(kind)))
                }
            }
        }
        addNodes(1 + random.below(3), .compensatable)
        if random.chance(75) { elements.append(SagaElement(makeStep(.pivot))) }
        addNodes(random.below(3), .retriable)

        var definition = SagaDefinition("Prop", version: 1, state: PState.self, elements: elements)
            .startedBy(command: PStart.self) { PState(flags: $0.flags) }
            .compensations(retry: .exponential(maxAttempts: 1 + random.below(3), initial: .seconds(1)), timeout: .seconds(5))
        if random.chance(40) { definition = definition.deadline(.seconds(Int64(5 + random.below(60)))) }
        return definition
    }
}

import Skald
import Testing

struct Ping: SagaMessage { var id = "" }
struct Pong: SagaMessage { var id = "" }
struct Nope: SagaMessage { var id = "" }
struct Undo: SagaMessage { var id = "" }
struct Undone: SagaMessage { var id = "" }

struct TinyState: Codable, Sendable, Equatable {
    var value = 0
    var flag = true
}

/// A well-formed step of the given kind, with a compensation when it needs one.
func tinyStep(_ name: String, _ kind: StepKind = .compensatable) -> Step<TinyState> {
    if kind == .compensatable {
        return Step(name, kind: kind) {
            Command(to: "svc.commands") { _ in Ping() }
            OnSuccess(Pong.self) { state, _ in state.value += 1 }
            OnFailure(Nope.self)
            Compensation(to: "svc.commands", confirmedBy: Undone.self) { _ in Undo() }
        }
    }
    return Step(name, kind: kind) {
        Command(to: "svc.commands") { _ in Ping() }
        OnSuccess(Pong.self) { state, _ in state.value += 1 }
        OnFailure(Nope.self)
    }
}

@Suite struct ValidationTests {
    func errors(_ definition: SagaDefinition<TinyState>) -> [SagaDefinitionError] {
        definition.validationErrors()
    }

    func only(_ definition: SagaDefinition<TinyState>) throws -> SagaDefinitionError {
        let found = definition.validationErrors()
        #expect(found.count == 1, "\(found)")
        return try #require(found.first)
    }

    func started(_ definition: SagaDefinition<TinyState>) -> SagaDefinition<TinyState> {
        definition.startedBy(command: Ping.self) { _ in TinyState() }
    }

    @Test func aSoundDefinitionPasses() throws {
        let definition = started(
            SagaDefinition("Sound", state: TinyState.self) {
                tinyStep("a")
                Parallel("both") {
                    tinyStep("b")
                    tinyStep("c")
                }
                tinyStep("pivot", .pivot)
                tinyStep("after", .retriable)
            })
        #expect(errors(definition).isEmpty)
        try definition.validate()
    }

    @Test func noSteps() throws {
        let error = try only(started(SagaDefinition("Empty", state: TinyState.self) {}))
        #expect(error.rule == .noSteps)
        #expect(error.description == "Empty v1: a saga needs at least one step (rule: no-steps)")
    }

    @Test func invalidName() throws {
        let error = try only(started(SagaDefinition("Named", state: TinyState.self) { tinyStep("bad/name") }))
        #expect(error.rule == .invalidName)
        #expect(error.step == "bad/name")
        #expect(error.description.hasPrefix("Named v1, step 'bad/name': a step name must be non-empty"))
    }

    @Test func duplicateStepName() throws {
        let error = try only(
            started(
                SagaDefinition("Dup", version: 2, state: TinyState.self) {
                    tinyStep("a")
                    tinyStep("a")
                }))
        #expect(error.rule == .duplicateStepName)
        #expect(error.description == "Dup v2, step 'a': the name 'a' is used more than once (rule: duplicate-step-name)")
    }

    @Test func missingSuccessReply() throws {
        let definition = started(
            SagaDefinition("NoReply", state: TinyState.self) {
                Step("fire", kind: .retriable) {
                    Command(to: "svc.commands") { _ in Ping() }
                }
            })
        let error = try only(definition)
        #expect(error.rule == .missingSuccessReply)
        #expect(error.description.contains("step 'fire': no OnSuccess reply"))
    }

    @Test func ambiguousReply() throws {
        let definition = started(
            SagaDefinition("Ambiguous", state: TinyState.self) {
                Step("x", kind: .retriable) {
                    Command(to: "svc.commands") { _ in Ping() }
                    OnSuccess(Pong.self)
                    OnFailure(Pong.self)
                }
            })
        let error = try only(definition)
        #expect(error.rule == .ambiguousReply)
        #expect(error.description.contains("step 'x': the reply type 'Pong' is listed more than once"))
    }

    @Test func missingCompensation() throws {
        let definition = started(
            SagaDefinition("NoUndo", state: TinyState.self) {
                Step("charge") {
                    Command(to: "svc.commands") { _ in Ping() }
                    OnSuccess(Pong.self)
                }
            })
        let error = try only(definition)
        #expect(error.rule == .missingCompensation)
        #expect(
            error.description
                == "NoUndo v1, step 'charge': a compensatable step needs a Compensation(to:confirmedBy:) (rule: missing-compensation)"
        )
    }

    @Test func unusedCompensation() throws {
        let definition = started(
            SagaDefinition("Unused", state: TinyState.self) {
                Step("confirm", kind: .pivot) {
                    Command(to: "svc.commands") { _ in Ping() }
                    OnSuccess(Pong.self)
                    Compensation(to: "svc.commands", confirmedBy: Undone.self) { _ in Undo() }
                }
            })
        let error = try only(definition)
        #expect(error.rule == .unusedCompensation)
        #expect(error.description.contains("step 'confirm': a pivot step is never compensated"))
    }

    @Test func multiplePivots() throws {
        let error = try only(
            started(
                SagaDefinition("TwoPivots", state: TinyState.self) {
                    tinyStep("p1", .pivot)
                    tinyStep("p2", .pivot)
                }))
        #expect(error.rule == .multiplePivots)
        #expect(error.description.contains("step 'p2': a saga has at most one pivot; 'p1' is already one"))
    }

    @Test func compensatableAfterPivot() throws {
        let error = try only(
            started(
                SagaDefinition("Late", state: TinyState.self) {
                    tinyStep("confirm", .pivot)
                    tinyStep("refund")
                }))
        #expect(error.rule == .compensatableAfterPivot)
        #expect(
            error.description
                == "Late v1, step 'refund': a compensatable step may not follow the pivot 'confirm' (rule: compensatable-after-pivot)"
        )
    }

    @Test func retriableBeforePivot() throws {
        let error = try only(
            started(
                SagaDefinition("Early", state: TinyState.self) {
                    tinyStep("notify", .retriable)
                    tinyStep("confirm", .pivot)
                }))
        #expect(error.rule == .retriableBeforePivot)
        #expect(error.description.contains("step 'notify': a retriable step must come after the pivot 'confirm'"))
    }

    @Test func retriableBeforeCompensatable() throws {
        let error = try only(
            started(
                SagaDefinition("Early2", state: TinyState.self) {
                    tinyStep("notify", .retriable)
                    tinyStep("reserve")
                }))
        #expect(error.rule == .retriableBeforePivot)
        #expect(error.description.contains("step 'notify': a retriable step must come after every compensatable step"))
    }

    @Test func pivotInParallelGroup() throws {
        let error = try only(
            started(
                SagaDefinition("ParallelPivot", state: TinyState.self) {
                    Parallel("group") {
                        tinyStep("a")
                        tinyStep("confirm", .pivot)
                    }
                }))
        #expect(error.rule == .pivotInParallelGroup)
        #expect(error.description.contains("step 'confirm': the pivot must be a single step, not a branch of 'group'"))
    }

    @Test func emptyParallelGroup() throws {
        let error = try only(
            started(
                SagaDefinition("EmptyGroup", state: TinyState.self) {
                    tinyStep("a")
                    Parallel("nothing") {}
                }))
        #expect(error.rule == .emptyParallelGroup)
        #expect(error.description.contains("step 'nothing': a parallel group needs at least one branch"))
    }

    @Test func invalidTiming() throws {
        let definition = started(
            SagaDefinition("Timing", state: TinyState.self) {
                tinyStep("a").timeout(.zero)
            })
        let error = try only(definition)
        #expect(error.rule == .invalidTiming)
        #expect(error.description.contains("step 'a': the step timeout must be positive"))
        let policy = try only(started(SagaDefinition("Policy", state: TinyState.self) { tinyStep("a").retry(.exponential(maxAttempts: 0)) }))
        #expect(policy.description.contains("step 'a': the retry policy needs maxAttempts of 1 or more"))
        let deadline = try only(started(SagaDefinition("Deadline", state: TinyState.self) { tinyStep("a") }).deadline(.seconds(-1)))
        #expect(deadline.description == "Deadline v1: the saga deadline must be positive (rule: invalid-timing)")
    }

    @Test func noStartTrigger() throws {
        let error = try only(SagaDefinition("Unstartable", state: TinyState.self) { tinyStep("a") })
        #expect(error.rule == .noStartTrigger)
        #expect(error.description.contains("Unstartable v1: add .startedBy(command:)"))
    }

    @Test func duplicateStartTrigger() throws {
        let definition = started(SagaDefinition("Twice", state: TinyState.self) { tinyStep("a") })
            .startedBy(event: Ping.self, on: "svc.events", key: \.id) { _ in TinyState() }
        let error = try only(definition)
        #expect(error.rule == .duplicateStartTrigger)
        #expect(error.description.contains("two start triggers use the message type 'Ping'"))
    }

    @Test func invalidVersion() throws {
        let error = try only(started(SagaDefinition("Zero", version: 0, state: TinyState.self) { tinyStep("a") }))
        #expect(error.rule == .invalidVersion)
        #expect(error.description == "Zero v0: the version must be 1 or more, not 0 (rule: invalid-version)")
    }

    @Test func validateThrowsEveryError() throws {
        let definition = SagaDefinition("Many", state: TinyState.self) {
            tinyStep("confirm", .pivot)
            tinyStep("refund")
        }
        do {
            try definition.validate()
            Issue.record("validate() accepted a broken definition")
        } catch {
            #expect(error.errors.map(\.rule) == [.noStartTrigger, .compensatableAfterPivot])
            #expect(error.description.split(separator: "\n").count == 2)
        }
    }
}

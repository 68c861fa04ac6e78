/// The steps of a saga as the builder produced them.
public struct SagaSteps<State: Sendable>: Sendable {
    let elements: [SagaElement<State>]
}

/// One element of a saga body: what the builder collects.
public enum SagaElement<State: Sendable>: Sendable {
    /// A single step.
    case single(SagaStep<State>)
    /// A named parallel group and its branches.
    case parallel(String, [SagaStep<State>])

    /// A single step, for definitions assembled in code rather than in a builder.
    public init(_ step: Step<State>) {
        self = .single(step.definition)
    }

    /// A parallel group, for definitions assembled in code.
    public init(parallel name: String, _ branches: [Step<State>]) {
        self = .parallel(name, branches.map(\.definition))
    }
}

/// Builds a saga from `Step` and `Parallel` elements.
///
/// Only those two are accepted: anything else is a compile error naming them.
/// `if` is deliberately unsupported (a build-time branch would silently fix the
/// path for every instance); use `Step(...).when { state in ... }` instead, which
/// is decided per instance and recorded.
@resultBuilder
public enum SagaBuilder<State: Sendable> {
    /// A single step.
    public static func buildExpression(_ step: Step<State>) -> [SagaElement<State>] {
        [.single(step.definition)]
    }

    /// A step taken from another definition, e.g. version 2 reusing version 1's steps.
    public static func buildExpression(_ step: SagaStep<State>) -> [SagaElement<State>] {
        [.single(step)]
    }

    /// A parallel group.
    public static func buildExpression(_ group: Parallel<State>) -> [SagaElement<State>] {
        [.parallel(group.name, group.branches)]
    }

    /// Steps built by a loop, e.g. one per warehouse.
    public static func buildArray(_ components: [[SagaElement<State>]]) -> [SagaElement<State>] {
        components.flatMap { $0 }
    }

    /// The steps in order.
    public static func buildBlock(_ components: [SagaElement<State>]...) -> [SagaElement<State>] {
        components.flatMap { $0 }
    }

    /// The finished list of steps.
    public static func buildFinalResult(_ component: [SagaElement<State>]) -> SagaSteps<State> {
        SagaSteps(elements: component)
    }
}

/// Builds the branches of a ``Parallel`` group from `Step` elements.
@resultBuilder
public enum ParallelBuilder<State: Sendable> {
    /// One branch.
    public static func buildExpression(_ step: Step<State>) -> [Step<State>] {
        [step]
    }

    /// Parallel groups do not nest: the branches of a group are single steps.
    @available(*, unavailable, message: "Parallel groups do not nest; put the steps of the inner group in the outer one")
    public static func buildExpression(_ group: Parallel<State>) -> [Step<State>] {
        []
    }

    /// Branches built by a loop.
    public static func buildArray(_ components: [[Step<State>]]) -> [Step<State>] {
        components.flatMap { $0 }
    }

    /// The branches in order.
    public static func buildBlock(_ components: [Step<State>]...) -> [Step<State>] {
        components.flatMap { $0 }
    }
}

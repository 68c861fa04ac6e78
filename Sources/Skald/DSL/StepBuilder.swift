/// The parts of one step, checked to contain a command.
public struct StepParts<State: Sendable>: Sendable {
    let parts: [StepPart<State>]
}

/// One element of a step body.
public enum StepPart<State: Sendable>: Sendable {
    /// The command.
    case command(Command<State>)
    /// A success reply.
    case success(OnSuccess<State>)
    /// A failure reply.
    case failure(OnFailure<State>)
    /// The compensation.
    case compensation(Compensation<State>)
}

/// Marks a step body that already has its ``Command``.
public enum StepHasCommand {}
/// Marks a step body that still lacks its ``Command``.
public enum StepLacksCommand {}

/// A step body being built; `Marker` records whether the command is there yet,
/// so a step without one (or with two) fails to compile with a message that says so.
public struct PartialStep<State: Sendable, Marker>: Sendable {
    let parts: [StepPart<State>]
}

/// Builds the body of a ``Step`` from `Command`, `OnSuccess`, `OnFailure` and
/// `Compensation`.
///
/// Each element is first lifted by `buildExpression` into a ``PartialStep`` whose
/// marker says whether it is the command; the partial-block rules then only
/// combine bodies with at most one command, and only a body with one can be
/// finished. The failing overloads are `unavailable` with a message, so the
/// compiler says "A Step needs a Command…" rather than a generic mismatch.
@resultBuilder
public enum StepBuilder<State: Sendable> {
    /// The command.
    public static func buildExpression(_ command: Command<State>) -> PartialStep<State, StepHasCommand> {
        PartialStep(parts: [.command(command)])
    }

    /// A success reply.
    public static func buildExpression(_ reply: OnSuccess<State>) -> PartialStep<State, StepLacksCommand> {
        PartialStep(parts: [.success(reply)])
    }

    /// A failure reply.
    public static func buildExpression(_ reply: OnFailure<State>) -> PartialStep<State, StepLacksCommand> {
        PartialStep(parts: [.failure(reply)])
    }

    /// The compensation.
    public static func buildExpression(_ compensation: Compensation<State>) -> PartialStep<State, StepLacksCommand> {
        PartialStep(parts: [.compensation(compensation)])
    }

    /// The first element.
    public static func buildPartialBlock<Marker>(first: PartialStep<State, Marker>) -> PartialStep<State, Marker> {
        first
    }

    /// Adds the command to a body that had none.
    public static func buildPartialBlock(
        accumulated: PartialStep<State, StepLacksCommand>, next: PartialStep<State, StepHasCommand>
    ) -> PartialStep<State, StepHasCommand> {
        PartialStep(parts: accumulated.parts + next.parts)
    }

    /// Adds a reply or the compensation.
    public static func buildPartialBlock<Marker>(
        accumulated: PartialStep<State, Marker>, next: PartialStep<State, StepLacksCommand>
    ) -> PartialStep<State, Marker> {
        PartialStep(parts: accumulated.parts + next.parts)
    }

    /// A step sends exactly one command.
    @available(*, unavailable, message: "A Step sends exactly one Command; split it into two steps")
    public static func buildPartialBlock(
        accumulated: PartialStep<State, StepHasCommand>, next: PartialStep<State, StepHasCommand>
    ) -> PartialStep<State, StepHasCommand> {
        accumulated
    }

    /// The finished body of a step that has its command.
    public static func buildFinalResult(_ component: PartialStep<State, StepHasCommand>) -> StepParts<State> {
        StepParts(parts: component.parts)
    }

    /// A step must say what it sends.
    @available(*, unavailable, message: "A Step needs a Command(to:) { state in ... } saying what it sends")
    public static func buildFinalResult(_ component: PartialStep<State, StepLacksCommand>) -> StepParts<State> {
        StepParts(parts: component.parts)
    }
}

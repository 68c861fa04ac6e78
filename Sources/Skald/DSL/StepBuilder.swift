/// The parts of one step, checked to contain a command.
public struct StepParts<State: Sendable>: Sendable {
    let parts: [StepPart<State>]
}

enum StepPart<State: Sendable>: Sendable {
    case command(CommandSpec<State>)
    case success(ReplySpec<State>)
    case failure(ReplySpec<State>)
    case compensation(CompensationSpec<State>)
}

/// Marks a step body that already has its ``Command``.
public enum StepHasCommand {}
/// Marks a step body that still lacks its ``Command``.
public enum StepLacksCommand {}

/// A step body being built; `Marker` records whether the command is there yet,
/// so a step without one fails to compile with a message that says so.
public struct PartialStep<State: Sendable, Marker>: Sendable {
    let parts: [StepPart<State>]
}

/// Builds the body of a ``Step`` from `Command`, `OnSuccess`, `OnFailure` and
/// `Compensation`.
///
/// The builder tracks, in the type, whether a command is present: a step with no
/// command or with two commands is a compile error naming the problem.
@resultBuilder
public enum StepBuilder<State: Sendable> {
    /// Starts with the command.
    public static func buildPartialBlock(first: Command<State>) -> PartialStep<State, StepHasCommand> {
        PartialStep(parts: [.command(first.spec)])
    }

    /// Starts with a success reply.
    public static func buildPartialBlock(first: OnSuccess<State>) -> PartialStep<State, StepLacksCommand> {
        PartialStep(parts: [.success(first.spec)])
    }

    /// Starts with a failure reply.
    public static func buildPartialBlock(first: OnFailure<State>) -> PartialStep<State, StepLacksCommand> {
        PartialStep(parts: [.failure(first.spec)])
    }

    /// Starts with the compensation.
    public static func buildPartialBlock(first: Compensation<State>) -> PartialStep<State, StepLacksCommand> {
        PartialStep(parts: [.compensation(first.spec)])
    }

    /// Adds the command to a body that had none.
    public static func buildPartialBlock(
        accumulated: PartialStep<State, StepLacksCommand>, next: Command<State>
    ) -> PartialStep<State, StepHasCommand> {
        PartialStep(parts: accumulated.parts + [.command(next.spec)])
    }

    /// A step sends exactly one command.
    @available(*, unavailable, message: "A Step sends exactly one Command; split it into two steps")
    public static func buildPartialBlock(
        accumulated: PartialStep<State, StepHasCommand>, next: Command<State>
    ) -> PartialStep<State, StepHasCommand> {
        accumulated
    }

    /// Adds a success reply.
    public static func buildPartialBlock<Marker>(
        accumulated: PartialStep<State, Marker>, next: OnSuccess<State>
    ) -> PartialStep<State, Marker> {
        PartialStep(parts: accumulated.parts + [.success(next.spec)])
    }

    /// Adds a failure reply.
    public static func buildPartialBlock<Marker>(
        accumulated: PartialStep<State, Marker>, next: OnFailure<State>
    ) -> PartialStep<State, Marker> {
        PartialStep(parts: accumulated.parts + [.failure(next.spec)])
    }

    /// Adds the compensation.
    public static func buildPartialBlock<Marker>(
        accumulated: PartialStep<State, Marker>, next: Compensation<State>
    ) -> PartialStep<State, Marker> {
        PartialStep(parts: accumulated.parts + [.compensation(next.spec)])
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

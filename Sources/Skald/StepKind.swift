/// What a step means for the saga's ability to undo itself.
///
/// A saga is a sequence of local transactions. Some can be undone later
/// (**compensatable**), one is the point of no return (**pivot**), and the ones
/// after it must eventually succeed (**retriable**). Validation enforces the
/// order `compensatable* pivot? retriable*`.
public enum StepKind: String, Sendable, Hashable, Codable {
    /// Undone by its compensation command if a later step fails before the pivot.
    case compensatable
    /// The go/no-go step: once it succeeds, nothing before it is undone; if it
    /// fails, everything before it is.
    case pivot
    /// Runs after the pivot and is retried until it succeeds; never compensated.
    case retriable
}

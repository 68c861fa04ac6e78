/// A problem the engine reports instead of crashing: bad input, a log that does not
/// fit its definition, an unknown saga type.
public struct SagaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Stable codes for tooling and metrics.
    public enum Code: String, Sendable, Hashable {
        /// An event names a step the definition does not have.
        case unknownStep = "unknown-step"
        /// A payload is not of the type the definition expects.
        case payloadTypeMismatch = "payload-type-mismatch"
        /// Events are not numbered 1, 2, 3, … or an event comes before `saga.started`.
        case badSequence = "bad-sequence"
        /// No start trigger for this message type.
        case unknownStartMessage = "unknown-start-message"
        /// The registry has no definition of this name and version.
        case unknownDefinition = "unknown-definition"
        /// A stored event or payload could not be read.
        case undecodable
        /// Something could not be written as JSON.
        case unencodable
        /// A definition with this name and version is registered already.
        case duplicateDefinition = "duplicate-definition"
    }

    /// The code.
    public let code: Code
    /// What happened, in words.
    public let message: String

    /// An error with a code and message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The state handed to a closure is not the definition's state type.
    @usableFromInline
    static func stateTypeMismatch(_ type: Any.Type) -> SagaError {
        SagaError(.payloadTypeMismatch, "the saga state is not a \(type)")
    }

    /// `message (code)`.
    public var description: String { "\(message) (\(code.rawValue))" }
}

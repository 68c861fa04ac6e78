/// A misconfigured example service or a command it cannot read.
public struct ExampleServiceError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, in words.
    public var message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

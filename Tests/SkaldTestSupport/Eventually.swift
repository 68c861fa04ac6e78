import Testing

/// A condition a test waited for that never came true.
public struct NeverHappened: Error, CustomStringConvertible {
    /// What was awaited.
    public let what: String
    /// `never happened: <what>`.
    public var description: String { "never happened: \(what)" }
}

/// Polls `condition` until it holds: a guard against hangs, never a speed assertion.
///
/// - Throws: ``NeverHappened`` (and records an issue) when `timeout` passes first.
public func eventually(
    _ what: String,
    timeout: Duration = .seconds(120),
    poll: Duration = .milliseconds(100),
    condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    // The condition is asked once more after the last sleep: with every suite running at once,
    // a sleeping task may wake long after its time, and the deadline passing while it slept
    // says nothing about the condition.
    while true {
        if try await condition() { return }
        guard ContinuousClock.now < deadline else { break }
        try await Task.sleep(for: poll)
    }
    Issue.record("never happened: \(what)")
    throw NeverHappened(what: what)
}

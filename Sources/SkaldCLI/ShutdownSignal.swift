import UnixSignals

/// Waiting for the person at the terminal (SIGINT) or the supervisor (SIGTERM) to stop us.
enum ShutdownSignal {
    /// Returns once SIGINT or SIGTERM arrives.
    static func wait() async {
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        for await _ in signals { return }
    }
}

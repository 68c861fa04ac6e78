import Synchronization

/// A doorbell for one polling loop: ``ring()`` from anywhere, ``wait(timeout:)`` in the loop.
///
/// Rings coalesce: many rings while the loop is busy wake it once, which is what a
/// loop that drains a table wants. The timeout is the polling fallback for a lost
/// ring (a dropped LISTEN connection, another process's write). A spurious wake is
/// harmless: the loop just looks again.
final class Wakeup: Sendable {
    private struct State {
        var rung = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    init() {}

    /// Wakes the loop, now or at its next wait.
    func ring() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.rung = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns at the next ring, after `timeout`, or on cancellation, whichever comes first.
    func wait(timeout: Duration) async {
        let timer = Task { [weak self] in
            try await Task.sleep(for: timeout)
            self?.ring()
        }
        defer { timer.cancel() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.rung || Task.isCancelled {
                        state.rung = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            ring()
        }
    }
}

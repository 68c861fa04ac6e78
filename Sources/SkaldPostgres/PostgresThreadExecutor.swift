import Foundation
import SkaldSystem

/// A serial executor backed by one dedicated OS thread.
///
/// libpq calls block (network round trips, fsync waits on commit). Running them
/// on the Swift cooperative pool would starve every other task on this 2-core
/// class of machine, so each connection owns a thread and its actor runs there.
final class PostgresThreadExecutor: SerialExecutor, @unchecked Sendable {
    private enum Work {
        case job(UnownedJob)
        case closure(@Sendable () -> Void)
    }

    // Guarded by `condition`.
    private var queue: [Work] = []
    private var stopped = false
    private let condition = NSCondition()

    /// Starts the thread; `name` shows up in debuggers and `top -H` (`Thread.startNamed`, SkaldSystem).
    init(name: String) {
        Thread.startNamed(name) { [self] in self.runLoop() }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        push(.job(unowned))
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Runs `work` on the executor's thread and returns its result to the caller.
    ///
    /// Used before the actor exists (connecting) and by code that is not actor-isolated.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            push(.closure {
                continuation.resume(with: Result { try work() })
            })
        }
    }

    /// Lets the thread finish the queued work and exit.
    func shutdown() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func push(_ work: Work) {
        condition.lock()
        queue.append(work)
        condition.signal()
        condition.unlock()
    }

    private func runLoop() {
        var batch: [Work] = []
        batch.reserveCapacity(16)
        while true {
            condition.lock()
            while queue.isEmpty && !stopped {
                condition.wait()
            }
            if queue.isEmpty && stopped {
                condition.unlock()
                return
            }
            swap(&batch, &queue)
            condition.unlock()
            for work in batch {
                switch work {
                case .job(let job):
                    job.runSynchronously(on: asUnownedSerialExecutor())
                case .closure(let closure):
                    closure()
                }
            }
            batch.removeAll(keepingCapacity: true)
        }
    }
}

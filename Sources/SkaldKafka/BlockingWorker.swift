import Foundation
import SkaldSystem

/// One thread of its own that runs blocking librdkafka calls (sync commit, metadata, close)
/// one after another, so they never block the Swift cooperative thread pool.
final class BlockingWorker: @unchecked Sendable {
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var jobs: [@Sendable () -> Void] = []
    private var stopping = false

    /// Starts the thread; `name` shows up in debuggers and `top -H` (`Thread.startNamed`, SkaldSystem).
    init(name: String) {
        Thread.startNamed(name) { [self] in self.loop() }
    }

    /// Runs `body` on the worker thread and returns its result to the awaiting task.
    func run<Value: Sendable>(_ body: @escaping @Sendable () throws(KafkaError) -> Value) async throws(KafkaError) -> Value {
        let result: Result<Value, KafkaError> = await withCheckedContinuation { continuation in
            let accepted = enqueue {
                do throws(KafkaError) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
            if !accepted {
                continuation.resume(returning: .failure(.state("the client is closed", context: "BlockingWorker")))
            }
        }
        return try result.get()
    }

    /// Queues `job`; returns false when the worker has stopped.
    @discardableResult
    func enqueue(_ job: @escaping @Sendable () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    /// Lets queued jobs finish, then ends the thread.
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping {
                condition.wait()
            }
            if jobs.isEmpty && stopping {
                condition.unlock()
                return
            }
            let batch = jobs
            jobs.removeAll()
            condition.unlock()
            for job in batch { job() }
        }
    }
}

import SkaldKafka
import Synchronization

/// Hands consumed messages to the pump's workers, each partition always to the same worker.
///
/// A saga's replies share a partition (they are keyed by saga id), so one worker
/// applies them in order while another worker's batch is in Postgres: the Swift side
/// of one batch (routing, deciding, building the writes) overlaps the database side
/// of another. Each worker takes everything pending for it, up to a batch, so batches
/// stay large under load. The feeder waits while a worker has two batches pending,
/// which bounds memory.
final class PumpLanes: Sendable {
    private struct Lane {
        var pending: [KafkaMessage] = []
        var worker: CheckedContinuation<[KafkaMessage]?, Never>?
    }

    private struct State {
        var lanes: [Lane]
        var feeder: CheckedContinuation<Void, Never>?
        var finished = false
    }

    let count: Int
    private let batchSize: Int
    private let state: Mutex<State>

    init(count: Int, batchSize: Int) {
        self.count = max(1, count)
        self.batchSize = max(1, batchSize)
        state = Mutex(State(lanes: Array(repeating: Lane(), count: max(1, count))))
    }

    /// The lane of a partition: stable for the life of the pump.
    func lane(of message: KafkaMessage) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in message.topic.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        hash ^= UInt64(UInt32(bitPattern: message.partition))
        hash = hash &* 0x0000_0100_0000_01b3
        return Int(hash % UInt64(count))
    }

    /// Appends `messages` to their lanes, then waits while any lane is more than two batches behind.
    func feed(_ messages: [KafkaMessage]) async {
        var resumes: [(CheckedContinuation<[KafkaMessage]?, Never>, [KafkaMessage])] = []
        state.withLock { state in
            for message in messages { state.lanes[lane(of: message)].pending.append(message) }
            for index in state.lanes.indices {
                if let worker = state.lanes[index].worker, !state.lanes[index].pending.isEmpty {
                    state.lanes[index].worker = nil
                    resumes.append((worker, takeLocked(&state.lanes[index])))
                }
            }
        }
        for (worker, batch) in resumes { worker.resume(returning: batch) }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let full = state.withLock { state -> Bool in
                let full = !state.finished && state.lanes.contains { $0.pending.count > 2 * batchSize }
                if full { state.feeder = continuation }
                return full
            }
            if !full { continuation.resume() }
        }
    }

    /// The next batch of lane `index`, or nil once ``finish()`` was called and the lane is drained.
    func take(lane index: Int) async -> [KafkaMessage]? {
        await withCheckedContinuation { (continuation: CheckedContinuation<[KafkaMessage]?, Never>) in
            var feeder: CheckedContinuation<Void, Never>?
            let batch = state.withLock { state -> [KafkaMessage]?? in
                if !state.lanes[index].pending.isEmpty {
                    let batch = takeLocked(&state.lanes[index])
                    if !state.lanes.contains(where: { $0.pending.count > 2 * batchSize }) {
                        feeder = state.feeder
                        state.feeder = nil
                    }
                    return .some(batch)
                }
                if state.finished { return .some(nil) }
                state.lanes[index].worker = continuation
                return .none
            }
            feeder?.resume()
            if let batch { continuation.resume(returning: batch) }
        }
    }

    /// Ends the lanes: workers drain what is pending and then get nil.
    func finish() {
        let (workers, feeder) = state.withLock { state in
            state.finished = true
            var workers: [CheckedContinuation<[KafkaMessage]?, Never>] = []
            for index in state.lanes.indices {
                if let worker = state.lanes[index].worker {
                    state.lanes[index].worker = nil
                    workers.append(worker)
                }
            }
            let feeder = state.feeder
            state.feeder = nil
            return (workers, feeder)
        }
        for worker in workers { worker.resume(returning: nil) }
        feeder?.resume()
    }

    private func takeLocked(_ lane: inout Lane) -> [KafkaMessage] {
        if lane.pending.count <= batchSize {
            defer { lane.pending = [] }
            return lane.pending
        }
        let batch = Array(lane.pending.prefix(batchSize))
        lane.pending.removeFirst(batchSize)
        return batch
    }
}

import CRdKafka
import Synchronization

/// The delivery reports of one `send` call, awaited with a single continuation.
///
/// Each produced message carries a pointer to its slot as librdkafka's
/// per-message opaque; the delivery-report callback (on the producer's poll
/// thread) fills the slot and counts down. The last report resumes the sender.
/// One continuation per batch instead of one per message is what keeps the
/// producer fast at 100k+ messages per second.
final class DeliveryBatch: @unchecked Sendable {
    /// What librdkafka reported for one message.
    struct Slot {
        var batch: UnsafeMutableRawPointer?
        var index: Int = 0
        var done = false
        var error: Int32 = 0
        var partition: Int32 = -1
        var offset: Int64 = -1001
    }

    private struct Progress {
        var remaining: Int
        var continuation: CheckedContinuation<Void, Never>?
    }

    let count: Int
    let slots: UnsafeMutablePointer<Slot>
    /// Errors that never reached librdkafka (rejected by produce), by index.
    private(set) var localErrors: [Int: KafkaError] = [:]
    private let progress: Mutex<Progress>

    init(count: Int) {
        self.count = count
        self.slots = .allocate(capacity: count)
        self.progress = Mutex(Progress(remaining: count, continuation: nil))
        let me = Unmanaged.passUnretained(self).toOpaque()
        for index in 0..<count {
            (slots + index).initialize(to: Slot(batch: me, index: index))
        }
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    /// The opaque to pass with message `index`.
    func opaque(for index: Int) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(slots + index)
    }

    /// Records a delivery report; called on the poll thread from the dr_msg_cb.
    func deliver(index: Int, error: Int32, partition: Int32, offset: Int64) {
        let slot = slots + index
        slot.pointee.error = error
        slot.pointee.partition = partition
        slot.pointee.offset = offset
        slot.pointee.done = true
        countDown()
    }

    /// Records a message that librdkafka refused to queue; called by the sender.
    func reject(index: Int, error: KafkaError) {
        localErrors[index] = error
        (slots + index).pointee.done = true
        countDown()
    }

    /// Fails every message that has no report yet; only after the handle is destroyed.
    func failOutstanding(with code: KafkaError.Code) {
        for index in 0..<count where !(slots + index).pointee.done {
            deliver(index: index, error: code.rawValue, partition: -1, offset: -1001)
        }
    }

    /// Messages of the batch without a report yet (queued, in flight, or still to be queued).
    var outstanding: Int {
        progress.withLock { $0.remaining }
    }

    private func countDown() {
        let continuation = progress.withLock { progress -> CheckedContinuation<Void, Never>? in
            progress.remaining -= 1
            guard progress.remaining == 0 else { return nil }
            defer { progress.continuation = nil }
            return progress.continuation
        }
        continuation?.resume()
    }

    /// Suspends until every message of the batch has a report.
    func waitForAllReports() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let finished = progress.withLock { progress -> Bool in
                if progress.remaining == 0 { return true }
                progress.continuation = continuation
                return false
            }
            if finished { continuation.resume() }
        }
    }

    /// The outcome of every message, in the order they were given.
    func results(for messages: [KafkaOutgoingMessage]) -> [Result<KafkaDeliveryReport, KafkaError>] {
        (0..<count).map { index in
            if let error = localErrors[index] { return .failure(error) }
            let slot = slots[index]
            if slot.error != 0 {
                let code = rd_kafka_resp_err_t(rawValue: slot.error)
                return .failure(
                    KafkaError(code, context: "KafkaProducer.send to \(messages[index].topic)")
                )
            }
            return .success(
                KafkaDeliveryReport(
                    topic: messages[index].topic,
                    partition: slot.partition,
                    offset: slot.offset >= 0 ? slot.offset : nil
                )
            )
        }
    }
}

/// librdkafka's dr_msg_cb: routes a report to its batch through the per-message opaque.
let deliveryReportCallback: @convention(c) (
    OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?
) -> Void = { _, message, _ in
    guard let message, let raw = message.pointee._private else { return }
    let slot = raw.assumingMemoryBound(to: DeliveryBatch.Slot.self).pointee
    guard let batchPointer = slot.batch else { return }
    let batch = Unmanaged<DeliveryBatch>.fromOpaque(batchPointer).takeUnretainedValue()
    batch.deliver(
        index: slot.index,
        error: message.pointee.err.rawValue,
        partition: message.pointee.partition,
        offset: message.pointee.offset
    )
}

import Foundation
import Skald

extension SagaProcessor {
    /// How close to its wake-up a cached saga has to go through the row locks (seconds).
    ///
    /// A timer service changes a saga's timers without an event only once its wake-up came due
    /// on the service's clock (it puts a timeout off, moves an early wake-up on, takes off a
    /// timer that found nothing to do), so a cache entry can have missed such a change only if
    /// the wake-up it holds was due. The one-round-trip path's snapshot update checks each
    /// saga's wake-up against the cache anyway and fails the batch when it moved
    /// (``PumpStatements/DocumentWrites/updateSnapshotsExpectingWakeups``); leaving sagas this
    /// close to their wake-up to the locks spares those batches the conflict. The margin also
    /// covers two processes' clocks disagreeing a little.
    static let wakeMargin: TimeInterval = 1

    /// Runs `decide` for each input not settled yet, in the order the inputs arrived, and
    /// gathers what the decisions write.
    ///
    /// `sagas` holds what the batch knows of each saga it touches: the current instance, the
    /// stored `traceparent`, the epoch of a cached saga whose commands all went to the relay by
    /// hand, and whether it has ended. It gains the sagas started here, and each decision's
    /// instance.
    ///
    /// - Parameter optimistic: the batch runs without row locks (``applyOptimistically(_:on:now:documents:)``),
    ///   so an input that needs what only the locked path knows ends the attempt: a saga not
    ///   given (a start is taken to be new), an unregistered definition, an input the saga refuses, a decision that
    ///   appends no event (a stale instance would go unnoticed: nothing would collide in the log), or a
    ///   saga whose wake-up is due or nearly (``wakeMargin``).
    /// - Returns: why an optimistic batch must take the locked path instead; nil when every
    ///   input was decided (always, when not `optimistic`).
    func decideInputs(
        _ work: [SagaWork],
        sagaIds: [String?],
        outcomes: inout [SagaWorkOutcome?],
        sagas: inout [String: BatchSaga],
        now: Date,
        optimistic: Bool,
        writes: inout BatchWrites,
        spans: inout TransitionSpans
    ) -> LockedPathReason? {
        // Each input is read where it lies in the buffer: taken out of the array (by a `for`
        // binding or a subscript), every input was copied, each of its dozen references (the
        // envelope's strings, the payload) retained and released again.
        return work.withUnsafeBufferPointer { work in
            for index in work.indices where outcomes[index] == nil {
                guard let id = sagaIds[index] else { continue }
                let saga: any RuntimeSagaDefinition
                let instance: AnySagaInstance
                var isNew = false
                // The saga's one lookup for this input: later reads and writes go through the index.
                let known = sagas.index(forKey: id)
                if let known, let existing = sagas.values[known].instance {
                    if optimistic, let wake = sagas.values[known].wakeAt, wake <= now.addingTimeInterval(Self.wakeMargin) {
                        // A timer service may be changing its timers right now, without an event
                        // that would make this batch collide in the log; its row tells.
                        return .wakeUpNear
                    }
                    if case .start = work[index].target {
                        // The same start again (another message id, the same business key): one saga.
                        outcomes[index] = .duplicate(sagaId: id)
                        continue
                    }
                    if sagas.values[known].isFinished, case .timer = work[index].input {
                        // A timer that outlived its saga changes nothing worth recording.
                        outcomes[index] = .duplicate(sagaId: id)
                        continue
                    }
                    guard let registered = try? registry.definition(name: existing.sagaType, version: existing.version) else {
                        if optimistic { return .unregisteredDefinition }
                        outcomes[index] = .unroutable(reason: "saga type \(existing.sagaType) v\(existing.version) is not registered")
                        continue
                    }
                    saga = registered
                    instance = existing
                } else if case .start(let type, _, _) = work[index].target, let latest = try? registry.latest(name: type) {
                    saga = latest
                    instance = latest.newInstance(sagaId: id)
                    isNew = true
                } else {
                    // The short path reaches here only with a start whose saga type is not
                    // registered: inputs for uncached sagas ended it before deciding.
                    if optimistic { return .unregisteredDefinition }
                    outcomes[index] = .unroutable(reason: "no saga has the id '\(id)'")
                    continue
                }
                let storedTrace = known.flatMap { sagas.values[$0].traceparent }
                let span = spans.isTracing ? spans.start(work[index], sagaId: id, sagaType: saga.name, sagaTrace: storedTrace) : nil
                do {
                    var decision = try saga.decide(instance, work[index].input, now: now)
                    if optimistic && decision.events.isEmpty { return .noEvents }
                    // One trace per saga: commands caused by an input without trace context (a timer,
                    // an operator, a participant that does not propagate it) continue the trace the
                    // saga started with.
                    let sagaTrace = storedTrace ?? (isNew ? work[index].traceparent : nil)
                    if let sagaTrace {
                        for index in decision.commands.indices where decision.commands[index].envelope.traceparent == nil {
                            decision.commands[index].envelope.traceparent = sagaTrace
                        }
                    }
                    // With a tracer, the commands go out as children of this transition's span, and a new
                    // saga keeps that span's context: even one started without trace context is one trace.
                    let spanTrace = spans.applied(span, decision: &decision)
                    var trace = storedTrace
                    if isNew, let started = spanTrace ?? work[index].traceparent {
                        writes.trace(sagaId: id, traceparent: started)
                        trace = started
                    }
                    // A new saga's commands may go to the relay by hand, and so may those of a saga
                    // whose every command went that way in the lane's current epoch (its cache entry
                    // says so, and the entry is at the saga's last sequence, so no other process
                    // wrote to it since: every command comes with an event).
                    let claim = handoff?.claim(lane: OutboxRelay.lane(ofSaga: id))
                    let handoffEpoch: Int?
                    if isNew {
                        handoffEpoch = claim
                    } else {
                        let previous = known.flatMap { sagas.values[$0].handoffEpoch }
                        handoffEpoch = previous == claim ? previous : nil
                    }
                    let isFinished = decision.snapshot.status.isFinal
                    // The armed timers after the decision, and what the saga's wake-up row needs.
                    var timers = known.map { sagas.values[$0].timers } ?? PendingTimers()
                    let storedWake = known.flatMap { sagas.values[$0].wakeAt }
                    if case .timer(let fired) = work[index].input { timers.remove(fired) }
                    if isFinished {
                        timers.removeAll()
                    } else {
                        timers.apply(cancelled: decision.cancelledTimers, armed: decision.timers)
                    }
                    let wakeAction = timers.wakeAction(storedWake: storedWake, now: now)
                    let wakeAt = wakeAction.wake(after: storedWake)
                    if let known {
                        sagas.values[known].instance = decision.instance
                        sagas.values[known].traceparent = trace
                        sagas.values[known].handoffEpoch = handoffEpoch
                        sagas.values[known].isFinished = isFinished
                        sagas.values[known].timers = timers
                        sagas.values[known].wakeAt = wakeAt
                    } else {
                        sagas[id] = BatchSaga(
                            instance: decision.instance, traceparent: trace, handoffEpoch: handoffEpoch, isFinished: isFinished,
                            timers: timers, wakeAt: wakeAt)
                    }
                    writes.add(
                        decision, startsSaga: isNew, handingIn: handoffEpoch,
                        timers: timers, wake: (before: storedWake, after: wakeAt, forced: wakeAction != .keep))
                    if isNew {
                        var key = decision.snapshot.businessKey
                        if key.isEmpty, case .start(_, _, let triggerKey?) = work[index].target { key = triggerKey }
                        if !key.isEmpty { writes.correlate(sagaType: saga.name, key: key, sagaId: id) }
                    }
                    outcomes[index] = .applied(sagaId: id)
                } catch {
                    if optimistic { return .refusedInput }
                    spans.rejected(span, error: error)
                    outcomes[index] = .rejected(reason: "\(error)")
                    logger.warning("saga refused an input", metadata: ["saga": "\(id)", "error": "\(error)"])
                }
            }
            return nil
        }
    }
}

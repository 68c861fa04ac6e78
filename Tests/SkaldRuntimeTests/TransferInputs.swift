import Foundation
import Skald
import SkaldRuntime

/// Work items for the Transfer saga, as the pump would hand them to the processor.
enum TransferInputs {
    /// Starts of sagas `Transfer-<index>`, with message ids `<messagePrefix><index>`.
    /// Saga `index` transfers `transferId(index)` (its business key), `t<index>` by default.
    static func start(
        _ indices: Range<Int>, messagePrefix: String = "start-", transferId: (Int) -> String = { "t\($0)" }
    ) throws -> [SagaWork] {
        try indices.map { index in
            let envelope = MessageEnvelope(id: "\(messagePrefix)\(index)", source: "test", type: StartTransfer.messageType)
            let payload = try SkaldJSON.encode(
                StartTransfer(transferId: transferId(index), amount: 10, declineDebit: false, declineCredit: false))
            return SagaWork(
                target: .start(sagaType: "Transfer", sagaId: "Transfer-\(index)", businessKey: nil),
                input: .start(envelope: envelope, payload: payload), inboxId: envelope.id, source: "test")
        }
    }

    /// A participant's reply to saga `index`'s command of `step`, with message id `messageId`.
    static func reply<Reply: SagaMessage>(
        _ reply: Reply, to index: Int, step: String, messageId: String
    ) throws -> SagaWork {
        let envelope = MessageEnvelope(
            id: messageId, source: "test", type: Reply.messageType, sagaId: "Transfer-\(index)",
            sagaType: "Transfer", sagaStep: step,
            causationId: OutgoingCommand.id(sagaId: "Transfer-\(index)", step: step, purpose: .action, attempt: 1))
        return SagaWork(
            target: .saga(id: "Transfer-\(index)"), input: .message(envelope: envelope, payload: try SkaldJSON.encode(reply)),
            inboxId: envelope.id, source: "test")
    }

    static func debited(_ index: Int, messageId: String? = nil) throws -> SagaWork {
        try reply(Debited(transferId: "t\(index)"), to: index, step: "debit", messageId: messageId ?? "debited-\(index)")
    }

    static func credited(_ index: Int) throws -> SagaWork {
        try reply(Credited(transferId: "t\(index)"), to: index, step: "credit", messageId: "credited-\(index)")
    }

    static func notified(_ index: Int) throws -> SagaWork {
        try reply(Notified(transferId: "t\(index)"), to: index, step: "notify", messageId: "notified-\(index)")
    }

    static func debitDeclined(_ index: Int) throws -> SagaWork {
        try reply(DebitDeclined(transferId: "t\(index)"), to: index, step: "debit", messageId: "declined-\(index)")
    }
}

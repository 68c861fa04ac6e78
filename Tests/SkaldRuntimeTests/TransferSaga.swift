import Foundation
import Skald

// A small saga for the runtime tests: debit (compensatable) → credit (pivot) → notify (retriable).
// Participants decide their replies from the payload, so each test knows every saga's fate.

struct StartTransfer: SagaMessage {
    static let messageType = "test.transfers.StartTransfer"
    var transferId: String
    var amount: Int
    var declineDebit: Bool
    var declineCredit: Bool
    /// Set by one test: a date in the input must survive the library's start call.
    var requestedAt: Date? = nil
}

struct Debit: SagaMessage {
    static let messageType = "test.bank.Debit"
    var transferId: String
    var amount: Int
    var decline: Bool
}

struct Debited: SagaMessage { static let messageType = "test.bank.Debited"; var transferId: String }
struct DebitDeclined: SagaMessage { static let messageType = "test.bank.DebitDeclined"; var transferId: String }
struct Refund: SagaMessage { static let messageType = "test.bank.Refund"; var transferId: String; var amount: Int }
struct Refunded: SagaMessage { static let messageType = "test.bank.Refunded"; var transferId: String }

struct Credit: SagaMessage {
    static let messageType = "test.bank.Credit"
    var transferId: String
    var amount: Int
    var decline: Bool
}

struct Credited: SagaMessage { static let messageType = "test.bank.Credited"; var transferId: String }
struct CreditDeclined: SagaMessage { static let messageType = "test.bank.CreditDeclined"; var transferId: String }
struct Notify: SagaMessage { static let messageType = "test.notify.Notify"; var transferId: String }
struct Notified: SagaMessage { static let messageType = "test.notify.Notified"; var transferId: String }

struct TransferState: Codable, Sendable, Equatable {
    var transferId: String
    var amount: Int
    var declineDebit: Bool
    var declineCredit: Bool
    var outcome: String?
}

enum TransferTopics {
    static let debits = "test.debits.commands"
    static let credits = "test.credits.commands"
    static let notifications = "test.notify.commands"
    static let all = [debits, credits, notifications]
}

func transferSaga(
    version: Int = 1,
    stepTimeout: Duration = .seconds(10),
    stepRetry: RetryPolicy = .standard,
    compensationRetry: RetryPolicy = .persistent,
    compensationTimeout: Duration = .seconds(30)
) -> SagaDefinition<TransferState> {
    SagaDefinition("Transfer", version: version, state: TransferState.self) {
        Step("debit") {
            Command(to: TransferTopics.debits) { state in
                Debit(transferId: state.transferId, amount: state.amount, decline: state.declineDebit)
            }
            OnSuccess(Debited.self)
            OnFailure(DebitDeclined.self) { state, _ in state.outcome = "debit declined" }
            Compensation(to: TransferTopics.debits, confirmedBy: Refunded.self) { state in
                Refund(transferId: state.transferId, amount: state.amount)
            }
        }
        .timeout(stepTimeout)
        .retry(stepRetry)

        Step("credit", kind: .pivot) {
            Command(to: TransferTopics.credits) { state in
                Credit(transferId: state.transferId, amount: state.amount, decline: state.declineCredit)
            }
            OnSuccess(Credited.self) { state, _ in state.outcome = "credited" }
            OnFailure(CreditDeclined.self) { state, _ in state.outcome = "credit declined" }
        }
        .timeout(stepTimeout)

        Step("notify", kind: .retriable) {
            Command(to: TransferTopics.notifications) { state in Notify(transferId: state.transferId) }
            OnSuccess(Notified.self)
        }
    }
    .startedBy(command: StartTransfer.self) { input in
        TransferState(
            transferId: input.transferId, amount: input.amount, declineDebit: input.declineDebit,
            declineCredit: input.declineCredit)
    }
    .businessKey(\.transferId)
    .compensations(retry: compensationRetry, timeout: compensationTimeout)
}

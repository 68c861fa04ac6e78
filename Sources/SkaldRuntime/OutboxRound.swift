import SkaldKafka

/// The messages of one relay round and the outbox rows they come from, and what becomes of
/// each row once the messages' delivery reports are in.
///
/// A plain row gives one message. A range row of the saga-event mirror gives one message per
/// event, in sequence order (``SagaEventMirror``).
struct OutboxRound {
    /// The messages to publish, in the outbox's order.
    private(set) var messages: [KafkaOutgoingMessage] = []
    /// `rows[i]`: the outbox row of message `i`.
    private var rows: [Int64] = []
    /// `sequences[i]`: the saga event message `i` carries, nil for a plain row's message.
    private var sequences: [Int?] = []
    /// Rows to forget without publishing anything (a range whose events cannot be read).
    private var dropped: [Int64] = []

    /// What a row read from the outbox gives a round, before it is merged in id order with
    /// the rows handed over: a message (of event `sequence` for a range row), or nothing to
    /// publish, for a range row whose events cannot be read.
    enum Item {
        case message(KafkaOutgoingMessage, sequence: Int?)
        case dropped

        var isDropped: Bool {
            if case .dropped = self { true } else { false }
        }
    }

    init(capacity: Int) {
        messages.reserveCapacity(capacity)
        rows.reserveCapacity(capacity)
        sequences.reserveCapacity(capacity)
    }

    /// Adds the message of a plain row.
    mutating func append(_ message: KafkaOutgoingMessage, row: Int64) {
        messages.append(message)
        rows.append(row)
        sequences.append(nil)
    }

    /// Adds the message of event `sequence` of a range row.
    mutating func append(_ message: KafkaOutgoingMessage, row: Int64, sequence: Int) {
        messages.append(message)
        rows.append(row)
        sequences.append(sequence)
    }

    /// Marks a row to be forgotten although nothing of it was published; returns whether it
    /// was not marked yet (a range gives one result row per event).
    mutating func dropping(row: Int64) -> Bool {
        guard dropped.last != row else { return false }
        dropped.append(row)
        return true
    }

    /// What to do with the round's rows, given each message's outcome (in ``messages``' order).
    struct Settlement: Equatable {
        /// Rows whose every message was delivered (and dropped rows): delete them.
        var forget: [Int64] = []
        /// Range rows with some events delivered before one that failed: the sequence to go on
        /// from, so a later round does not publish the delivered ones again.
        var resume: [(row: Int64, firstSequence: Int)] = []
        /// Messages delivered, and messages that failed.
        var delivered = 0
        var failed = 0

        static func == (lhs: Settlement, rhs: Settlement) -> Bool {
            lhs.forget == rhs.forget && lhs.resume.elementsEqual(rhs.resume, by: ==)
                && lhs.delivered == rhs.delivered && lhs.failed == rhs.failed
        }
    }

    /// Settles the round: `delivered[i]` says whether message `i` was delivered.
    ///
    /// A row stays while any of its messages failed. For a range, the events before the first
    /// failed one are not sent again: the idempotent producer keeps a partition's order, so once
    /// one fails the later ones are sent again anyway.
    func settle(_ delivered: [Bool]) -> Settlement {
        precondition(delivered.count == messages.count, "one outcome per message")
        var settlement = Settlement(forget: dropped)
        var index = 0
        while index < rows.count {
            let row = rows[index]
            var end = index
            var firstFailure: Int?
            while end < rows.count, rows[end] == row {
                if delivered[end] {
                    settlement.delivered += 1
                } else {
                    settlement.failed += 1
                    if firstFailure == nil { firstFailure = end }
                }
                end += 1
            }
            if let firstFailure {
                if firstFailure > index, let sequence = sequences[firstFailure] {
                    settlement.resume.append((row, sequence))
                }
            } else {
                settlement.forget.append(row)
            }
            index = end
        }
        return settlement
    }

    /// The outbox row of message `index`.
    func row(of index: Int) -> Int64 {
        rows[index]
    }
}

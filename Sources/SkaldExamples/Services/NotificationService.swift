import Skald
public import SkaldPostgres

/// notification-service: records the notifications it sends, one per saga.
///
/// The notify step is retriable: when the service is told to fail a share of attempts,
/// each attempt (a new command id) decides anew, so a retry can succeed.
public struct NotificationService: CommandHandler {
    /// Creates the handler.
    public init() {}

    /// `notification`.
    public var serviceName: String { "notification" }
    /// `notifications`.
    public var defaultSchema: String { "notifications" }
    /// `notifications.commands`.
    public var commandsTopic: String { "notifications.commands" }

    /// The notifications sent.
    public var tablesSQL: String {
        """
        CREATE TABLE notifications (
            saga_id     text        PRIMARY KEY,
            customer_id text        NOT NULL,
            text        text        NOT NULL,
            attempts    integer     NOT NULL DEFAULT 1,
            sent_at     timestamptz NOT NULL DEFAULT now()
        );
        """
    }

    /// Its keys compare byte by byte, whatever the database's collation, as the saga store's
    /// do (`schemas/postgres/0009_bytewise_keys.sql` says why).
    public var tablesChanges: [ServiceTablesChange] {
        [
            ServiceTablesChange(name: "bytewise_keys", sql: """
                SET LOCAL lock_timeout = '10s';
                ALTER TABLE notifications ALTER COLUMN saga_id TYPE text COLLATE "C";
                """)
        ]
    }

    /// Handles NotifyCustomer, a batch in one statement whatever its size: each saga's
    /// notifications of the batch are counted as attempts on its one row.
    public func handle(
        _ commands: [ServiceCommand], on connection: isolated PostgresConnection, behaviour: ServiceBehaviour
    ) async throws -> [CommandOutcome] {
        var batch = DecodedBatch(commands) { command -> NotifyCustomer? in
            command.envelope.type == NotifyCustomer.messageType ? try command.decode(NotifyCustomer.self) : nil
        }
        // One row per saga: an upsert cannot touch a row twice in one statement.
        var sent: [String: (customerId: String, text: String, attempts: Int)] = [:]
        var sagaIds: [String] = []
        for (index, notify) in batch.commands {
            let envelope = commands[index].envelope
            // Each attempt (a new command id) decides anew, so a retry may succeed.
            if behaviour.fails(envelope.id) {
                batch.answer(index, with: NotificationFailed())
                continue
            }
            let sagaId = envelope.sagaId ?? envelope.id
            if sent[sagaId] == nil {
                sent[sagaId] = (notify.customerId, notify.text, 1)
                sagaIds.append(sagaId)
            } else {
                sent[sagaId]!.attempts += 1
            }
            batch.answer(index, with: CustomerNotified())
        }
        guard !sagaIds.isEmpty else { return batch.results }
        var ids = PostgresArrayWriter(of: .text, capacity: sagaIds.count)
        var customers = PostgresArrayWriter(of: .text, capacity: sagaIds.count)
        var texts = PostgresArrayWriter(of: .text, capacity: sagaIds.count)
        var attempts = PostgresArrayWriter(of: .int4, capacity: sagaIds.count)
        for sagaId in sagaIds {
            let notification = sent[sagaId]!
            ids.append(sagaId)
            customers.append(notification.customerId)
            texts.append(notification.text)
            attempts.append(notification.attempts)
        }
        _ = try connection.execute(
            """
            INSERT INTO notifications (saga_id, customer_id, text, attempts)
            SELECT * FROM unnest(\(ids.value)::text[], \(customers.value)::text[], \(texts.value)::text[], \(attempts.value)::integer[])
            ON CONFLICT (saga_id) DO UPDATE SET attempts = notifications.attempts + excluded.attempts
            """
        )
        return batch.results
    }
}

public import Skald
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

    /// Handles NotifyCustomer.
    public func handle(
        _ command: ServiceCommand, on connection: isolated PostgresConnection, behaviour: ServiceBehaviour
    ) async throws -> (any SagaMessage)? {
        guard command.envelope.type == NotifyCustomer.messageType else { return nil }
        let notify = try command.decode(NotifyCustomer.self)
        if behaviour.fails(command.envelope.id) { return NotificationFailed() }
        let sagaId = command.envelope.sagaId ?? command.envelope.id
        _ = try connection.execute(
            """
            INSERT INTO notifications (saga_id, customer_id, text) VALUES (\(sagaId), \(notify.customerId), \(notify.text))
            ON CONFLICT (saga_id) DO UPDATE SET attempts = notifications.attempts + 1
            """
        )
        return CustomerNotified()
    }
}

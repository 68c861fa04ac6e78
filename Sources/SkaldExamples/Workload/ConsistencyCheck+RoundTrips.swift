import Foundation
import SkaldPostgres

extension ConsistencyCheck {
    /// The example services' schemas, whose inboxes record when each command was handled.
    static let serviceSchemas = ["orders", "inventory", "payments", "notifications"]

    /// The round trips of the commands `workload`'s sagas sent and had answered, matched with
    /// the services' inboxes by command id. Nil when none matched.
    ///
    /// A command's answer is its step's next reply event of the same kind (`step.succeeded` or
    /// `step.failed` for an action, `compensation.succeeded` or `compensation.failed` for a
    /// compensation) for the same attempt, carrying a reply. Left out: a command whose step
    /// timed out first or whose compensation failed by its timeout (no reply), a late reply to
    /// an earlier attempt, and a command its service has forgotten (`InboxPruner`, after 14
    /// days by default).
    public func stepRoundTrips(of workload: ExampleWorkload) async throws -> StepRoundTrips? {
        let store = try await PostgresConnection.connect(to: storeURL)
        var answered: [String: (sent: Date, replied: Date)] = [:]
        do {
            for row in try await store.query(
                """
                SELECT command_id, sent_at, replied_at FROM (
                    SELECT e.event_type, e.event::json->>'commandId' AS command_id,
                           e.event::json->>'attempt' AS attempt, e.recorded_at AS sent_at,
                           lead(e.event_type) OVER step AS next_type,
                           lead(e.event::json->>'attempt') OVER step AS next_attempt,
                           lead(e.event::json->>'reply') OVER step AS next_reply,
                           lead(e.recorded_at) OVER step AS replied_at
                    FROM saga_events e JOIN sagas s USING (saga_id)
                    WHERE s.business_key LIKE \(workload.orderIdPrefix + "%")
                      AND e.event_type IN ('step.command-sent', 'step.succeeded', 'step.failed', 'step.timed-out',
                                           'compensation.command-sent', 'compensation.succeeded', 'compensation.failed')
                    WINDOW step AS (PARTITION BY e.saga_id, e.event::json->>'step' ORDER BY e.sequence)
                ) events
                WHERE ((event_type = 'step.command-sent' AND next_type IN ('step.succeeded', 'step.failed'))
                    OR (event_type = 'compensation.command-sent' AND next_type IN ('compensation.succeeded', 'compensation.failed')))
                  AND next_attempt = attempt AND next_reply IS NOT NULL
                """
            ) {
                let (commandId, sent, replied) = try row.decode((String, Date, Date).self)
                answered[commandId] = (sent, replied)
            }
        } catch {
            await store.close()
            throw error
        }
        await store.close()
        guard !answered.isEmpty else { return nil }

        var commandIds = PostgresArrayWriter(of: .text, capacity: answered.count)
        for commandId in answered.keys { commandIds.append(commandId) }
        var samples: [StepRoundTrips.Sample] = []
        samples.reserveCapacity(answered.count)
        for schema in Self.serviceSchemas {
            let service = try await PostgresConnection.connect(to: try PostgresSearchPath.url(servicesURL, schema: schemaPrefix + schema))
            do {
                for row in try await service.query(
                    "SELECT message_id, received_at FROM inbox WHERE message_id = ANY(\(commandIds.value)::text[])"
                ) {
                    let (commandId, handled) = try row.decode((String, Date).self)
                    if let command = answered[commandId] {
                        samples.append(StepRoundTrips.Sample(sent: command.sent, handled: handled, replied: command.replied))
                    }
                }
            } catch {
                await service.close()
                throw error
            }
            await service.close()
        }
        return StepRoundTrips(samples: samples)
    }
}

public import Foundation
import SkaldPostgres

extension ConsistencyCheck {
    /// The example services' schemas, whose inboxes record when each command was handled.
    static let serviceSchemas = ["orders", "inventory", "payments", "notifications"]

    /// The round trips of the commands `workload`'s sagas sent and had answered, matched with
    /// the services' inboxes (rows received since `since`, a time before the run's first saga).
    ///
    /// A command's answer is the next event of its saga for the same step (`step.succeeded`,
    /// `step.failed`, or their compensation counterparts); a command that timed out instead, or
    /// whose service has forgotten it (`InboxPruner`), is left out. Nil when none matched.
    public func stepRoundTrips(of workload: ExampleWorkload, since: Date) async throws -> StepRoundTrips? {
        let store = try await PostgresConnection.connect(to: storeURL)
        var answered: [String: (sent: Date, replied: Date)] = [:]
        do {
            for row in try await store.query(
                """
                SELECT command_id, sent_at, replied_at FROM (
                    SELECT e.event::json->>'commandId' AS command_id, e.event_type, e.recorded_at AS sent_at,
                           lead(e.event_type) OVER step AS next_type, lead(e.recorded_at) OVER step AS replied_at
                    FROM saga_events e JOIN sagas s USING (saga_id)
                    WHERE s.business_key LIKE \(workload.orderIdPrefix + "%")
                    WINDOW step AS (PARTITION BY e.saga_id, e.event::json->>'step' ORDER BY e.sequence)
                ) events
                WHERE event_type IN ('step.command-sent', 'compensation.command-sent')
                  AND next_type IN ('step.succeeded', 'step.failed', 'compensation.succeeded', 'compensation.failed')
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

        var samples: [StepRoundTrips.Sample] = []
        samples.reserveCapacity(answered.count)
        for schema in Self.serviceSchemas {
            let service = try await PostgresConnection.connect(to: try PostgresSearchPath.url(servicesURL, schema: schemaPrefix + schema))
            do {
                for row in try await service.query("SELECT message_id, received_at FROM inbox WHERE received_at >= \(since)") {
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

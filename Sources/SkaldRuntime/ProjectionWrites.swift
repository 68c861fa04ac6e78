import Foundation
import Skald
import SkaldPostgres

/// The statements of one projection batch: the projection's own, event by event in each saga's
/// order, then the sagas' new positions and the projection's counters.
struct ProjectionWrites {
    /// How the positions are written: a batch moves rows it locked; a rebuild writes them anew.
    enum PositionWrite {
        case update
        case insert
    }

    let projection: any SagaProjection
    private var statements: [PostgresQuery] = []
    private var positions: [String: (sequence: Int, time: Date)] = [:]
    private(set) var progress = ProjectionProgress()

    init(projection: any SagaProjection) {
        self.projection = projection
    }

    /// Adds what `events` change; they come grouped by saga, each saga's in sequence order.
    mutating func add(_ events: [ProjectedEvent]) throws {
        var start = events.startIndex
        while start < events.endIndex {
            let sagaId = events[start].sagaId
            var end = start + 1
            while end < events.endIndex, events[end].sagaId == sagaId { end += 1 }
            let run = Array(events[start..<end])
            do {
                statements.append(contentsOf: try projection.statements(forEventsOf: run))
            } catch let failure as ProjectedEventFailure {
                throw SagaRuntimeError(
                    "projection '\(projection.name)' cannot apply event \(failure.event.event.sequence) "
                        + "(\(failure.event.eventType)) of saga \(sagaId): \(failure.underlying)")
            } catch {
                throw SagaRuntimeError(
                    "projection '\(projection.name)' cannot apply events \(run[0].event.sequence)–"
                        + "\(run[run.count - 1].event.sequence) of saga \(sagaId): \(error)")
            }
            for event in run {
                positions[sagaId] = (event.event.sequence, event.event.time)
                progress.events += 1
                if progress.newestEventAt.map({ event.event.time > $0 }) ?? true { progress.newestEventAt = event.event.time }
            }
            start = end
        }
        progress.sagas = positions.count
    }

    /// Every statement, ending with the positions.
    func statements(positions write: PositionWrite) -> [PostgresQuery] {
        guard !positions.isEmpty else { return statements }
        var all = statements
        var sagaIds = PostgresArrayWriter(of: .text)
        var sequences = PostgresArrayWriter(of: .int4)
        var times = PostgresArrayWriter(of: .timestamptz)
        for (sagaId, position) in positions.sorted(by: { $0.key < $1.key }) {
            sagaIds.append(sagaId)
            sequences.append(position.sequence)
            times.append(position.time)
        }
        let name = projection.name
        switch write {
        case .update:
            all.append(
                """
                UPDATE projection_positions p SET sequence = x.sequence, event_at = x.event_at
                FROM unnest(\(sagaIds.value)::text[], \(sequences.value)::integer[], \(times.value)::timestamptz[])
                  AS x(saga_id, sequence, event_at)
                WHERE p.projection = \(name) AND p.saga_id = x.saga_id
                """)
        case .insert:
            all.append(
                """
                INSERT INTO projection_positions (projection, saga_id, sequence, event_at)
                SELECT \(name), x.saga_id, x.sequence, x.event_at
                FROM unnest(\(sagaIds.value)::text[], \(sequences.value)::integer[], \(times.value)::timestamptz[])
                  AS x(saga_id, sequence, event_at)
                """)
        }
        return all
    }
}

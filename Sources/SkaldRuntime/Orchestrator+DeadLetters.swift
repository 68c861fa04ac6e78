public import SkaldKafka

extension Orchestrator {
    /// The dead letters its pump recorded.
    public var deadLetters: DeadLetterStore {
        DeadLetterStore(pool: pool)
    }

    /// Publishes dead letter `id` again to the topic it came from, through this orchestrator's
    /// producer (see ``DeadLetterStore/redrive(id:by:through:)``).
    public func redriveDeadLetter(id: Int64, by actor: String) async throws -> DeadLetterRedrive {
        let outcome = try await deadLetters.redrive(id: id, by: actor, through: producer)
        if case .redriven(let letter) = outcome {
            logger.notice(
                "dead letter redriven",
                metadata: ["dead_letter": "\(id)", "topic": "\(letter.sourceTopic)", "actor": "\(actor)"])
        }
        return outcome
    }
}

extension DeadLetterStore {
    /// Publishes dead letter `id` again to the topic it came from, as it was consumed (key,
    /// value, headers without the dead-letter ones), and records who did. The pump then handles
    /// it like any message: applied if what refused it is fixed, skipped if its id was applied
    /// since (the inbox), or dead-lettered again under a new offset.
    ///
    /// It is claimed (marked) first, so of two operators at once one publishes and the other is
    /// told it was redriven; a publish that fails releases the claim. A crash between the claim
    /// and the publish leaves it marked but not sent: its `redrivenAt` with no new dead letter or
    /// effect after it says so, and `skald dead-letters` shows the message to send by hand.
    public func redrive(id: Int64, by actor: String, through producer: KafkaProducer) async throws -> DeadLetterRedrive {
        guard let letter = try await deadLetter(id: id) else { return .notFound }
        if letter.redrivenAt != nil { return .alreadyRedriven(letter) }
        guard try await markRedriven(id: id, by: actor) else {
            return .alreadyRedriven((try await deadLetter(id: id)) ?? letter)
        }
        let headers = KafkaHeaders(
            (letter.headers ?? []).filter { !DeadLetters.addedHeaders.contains($0.name) }
                .map { KafkaHeader(name: $0.name, value: $0.value) })
        let message = KafkaOutgoingMessage(
            topic: letter.sourceTopic, key: letter.rawKey, value: letter.rawPayload ?? [], headers: headers)
        do {
            for result in try await producer.send([message]) { _ = try result.get() }
        } catch {
            try? await releaseRedrive(id: id, by: actor)
            throw error
        }
        return .redriven((try await deadLetter(id: id)) ?? letter)
    }
}

/// What a redrive did.
public enum DeadLetterRedrive: Sendable {
    /// Published again; the dead letter as it is now.
    case redriven(DeadLetterView)
    /// No dead letter has that id.
    case notFound
    /// It was redriven before (when and by whom is in the view); nothing was published.
    case alreadyRedriven(DeadLetterView)
}

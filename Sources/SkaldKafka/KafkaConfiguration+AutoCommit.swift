extension KafkaConfiguration {
    /// Has librdkafka commit the offsets a consumer stores, every `auto.commit.interval.ms`
    /// (1 s unless set) and at `close()`, instead of the consumer awaiting a commit per batch.
    ///
    /// For a consumer that stores a batch's offsets only once its effects are durable (the
    /// orchestrator's pump, the example services): auto-commit sends stored offsets only, so a
    /// crash re-delivers at most the last interval's messages, and an awaited commit would
    /// hold every batch for a broker round trip.
    public mutating func commitStoredOffsetsAutomatically() {
        properties["enable.auto.commit"] = "true"
        if properties["auto.commit.interval.ms"] == nil {
            properties["auto.commit.interval.ms"] = "1000"
        }
    }
}

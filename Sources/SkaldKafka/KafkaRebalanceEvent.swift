/// A change of the partitions assigned to a consumer group member.
public enum KafkaRebalanceEvent: Sendable, Hashable {
    /// These partitions were added to this member's assignment.
    case assigned([KafkaTopicPartition])
    /// These partitions were taken away; stored offsets were committed first.
    case revoked([KafkaTopicPartition])
    /// These partitions were lost without a clean hand-over (e.g. session timeout);
    /// another member may already be processing them.
    case lost([KafkaTopicPartition])
}

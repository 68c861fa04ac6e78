public import Skald

/// Which sagas a listing returns (`GET /api/v1/sagas?status=&type=&key=&stuck=`).
///
/// Every condition given must hold; an empty filter lists every saga, newest first.
public struct SagaListFilter: Sendable, Hashable {
    /// Only sagas in one of these statuses; empty means any.
    public var statuses: [SagaStatus]
    /// Only sagas of this type.
    public var sagaType: String?
    /// Only the saga with this business key (e.g. an order id).
    public var businessKey: String?
    /// Only stuck sagas: waiting for an operator, or running or compensating with no event
    /// for at least this long (a participant that stopped answering, a breaker held open).
    public var stuckFor: Duration?

    /// A filter; the defaults list everything.
    public init(
        statuses: [SagaStatus] = [], sagaType: String? = nil, businessKey: String? = nil, stuckFor: Duration? = nil
    ) {
        self.statuses = statuses
        self.sagaType = sagaType
        self.businessKey = businessKey
        self.stuckFor = stuckFor
    }
}

import Foundation
@testable import SkaldKafka
import SkaldSystem
import Testing

/// A mock broker's port stays out of automatic assignment while the broker is down, so that
/// nothing else takes it before librdkafka binds it again (it aborts the process otherwise).
@Suite struct ReservedPortsTests {
    @Test("the setting's format: single ports and ranges, read and written back")
    func formatRoundTrips() {
        #expect(ReservedPorts.parse("") == [])
        #expect(ReservedPorts.parse("8080,9000-9002\n") == [8080, 9000, 9001, 9002])
        #expect(ReservedPorts.format([9002, 8080, 9000, 9001, 7]) == "7,8080,9000-9002")
        #expect(ReservedPorts.format([]) == "")
        let ports: Set<Int> = [1, 2, 3, 10, 12, 13, 40000]
        #expect(ReservedPorts.parse(ReservedPorts.format(ports)) == ports)
    }

    @Test("a broker taken down has its port reserved until it is up again, or its cluster shuts down")
    func downBrokerPortIsReserved() throws {
        let cluster = try MockCluster(brokers: 2)
        let port = try #require(cluster.port(ofBroker: 2))
        #expect(cluster.bootstrapServers.split(separator: ",")[1].hasSuffix(":\(port)"))
        #expect(cluster.port(ofBroker: 3) == nil && cluster.port(ofBroker: 0) == nil)
        // Only root may change the machine's setting; elsewhere the reservation is skipped.
        let canReserve = getuid() == 0 && ReservedPorts.current() != nil
        let before = ReservedPorts.current() ?? []

        try cluster.setBrokerDown(2)
        if canReserve { #expect(ReservedPorts.current()?.contains(port) == true) }
        try cluster.setBrokerUp(2)
        #expect(ReservedPorts.current()?.contains(port) == before.contains(port))

        try cluster.setBrokerDown(2)
        cluster.shutdown()
        #expect(ReservedPorts.current()?.contains(port) == before.contains(port))
    }
}

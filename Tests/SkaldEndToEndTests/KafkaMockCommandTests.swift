import Foundation
import SkaldKafka
import SkaldTestSupport
import Testing

/// `skald kafka mock` as a process of its own, the way the parts of a deployment find it.
@Suite("skald kafka mock as a process", .serialized)
struct KafkaMockCommandTests {
    @Test("with --port, clients bootstrap through 127.0.0.1:PORT, produce and consume; the address is written and printed")
    func fixedBootstrapPort() async throws {
        let bootstrapFile = FileManager.default.temporaryDirectory.appendingPathComponent("kafka-bootstrap-\(UUID().uuidString)")
        // A free port may be taken by another process before the mock binds it (the suites run
        // at once): the mock then exits saying so, and the test tries another.
        var started: (mock: SkaldProcess, port: Int)?
        for _ in 0..<3 where started == nil {
            let port = try freeLocalPort()
            let mock = SkaldProcess(
                arguments: [
                    "kafka", "mock", "--brokers", "3", "--port", "\(port)", "--topic", "fixed-port:4", "--bootstrap-file",
                    bootstrapFile.path,
                ],
                label: "kafka-mock")
            try mock.start()
            try await eventually("the mock started or gave up") {
                mock.log.contains("skald: Kafka mock cluster with") || !mock.isRunning
            }
            if mock.isRunning {
                started = (mock, port)
            } else {
                #expect(mock.log.contains("Address already in use"), "\(mock.log.suffix(1_000))")
            }
        }
        let (mock, port) = try #require(started)
        defer { mock.killNow() }
        let bootstrap = "127.0.0.1:\(port)"
        #expect(mock.log.hasPrefix(bootstrap + "\n"), "the address comes first: \(mock.log.prefix(300))")
        #expect(try String(contentsOf: bootstrapFile, encoding: .utf8) == bootstrap + "\n")

        let producer = try KafkaProducer(configuration: mockKafka(bootstrap), logger: e2eLogger)
        let messages = (0..<20).map { KafkaOutgoingMessage(topic: "fixed-port", key: "k\($0)", value: "message \($0)") }
        for result in try await producer.send(messages) { _ = try result.get() }
        await producer.shutdown()

        let read = try await readAsNewMember(of: "fixed-port-reader", topics: ["fixed-port"], bootstrap: bootstrap) {
            $0.count >= 20
        }
        #expect(Set(read.map(\.valueString)) == Set((0..<20).map { "message \($0)" }))

        #expect(await mock.terminate() == 0, "\(mock.log.suffix(1_000))")
        #expect(!FileManager.default.fileExists(atPath: bootstrapFile.path), "the address file goes with the mock")
    }

    @Test("SIGUSR1 takes the brokers down and SIGUSR2 brings them back: a send fails between, and works after")
    func outageOnSignal() async throws {
        let cluster = try await MockKafkaProcess.start()
        defer { cluster.stopNow() }
        var configuration = mockKafka(cluster.bootstrapServers)
        configuration["message.timeout.ms"] = "2000"
        let producer = try KafkaProducer(configuration: configuration, logger: e2eLogger)
        let message = KafkaOutgoingMessage(topic: "orders.events", key: "k", value: "v")
        _ = try #require(try await producer.send([message]).first).get()

        try await cluster.setBrokersDown()
        let whileDown = try #require(try await producer.send([message]).first)
        #expect(throws: KafkaError.self) { try whileDown.get() }

        try await cluster.setBrokersUp()
        try await eventually("a send succeeds once the brokers are back", timeout: .seconds(60)) {
            (try? await producer.send([message]).first?.get()) != nil
        }
        await producer.shutdown()
        await cluster.stop()
        #expect(cluster.process.exitStatus == 0, "\(cluster.process.log.suffix(1_000))")
    }

    @Test("a --port another process holds is refused with a clear error")
    func portInUse() async throws {
        let (holder, port) = try boundLocalSocket(listening: true)
        defer { close(holder) }
        let bootstrapFile = FileManager.default.temporaryDirectory.appendingPathComponent("kafka-bootstrap-\(UUID().uuidString)")
        let mock = SkaldProcess(
            arguments: ["kafka", "mock", "--port", "\(port)", "--bootstrap-file", bootstrapFile.path], label: "kafka-mock")
        try mock.start()
        defer { mock.killNow() }
        try await eventually("the mock exited") { !mock.isRunning }
        #expect(mock.exitStatus != 0)
        #expect(mock.log.contains("cannot listen on 127.0.0.1:\(port)"), "\(mock.log.suffix(1_000))")
    }
}

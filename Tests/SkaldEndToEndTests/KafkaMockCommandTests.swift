import Foundation
import SkaldKafka
import SkaldTestSupport
import Testing

/// `skald kafka mock` as a process of its own, the way the parts of a deployment find it.
@Suite("skald kafka mock as a process")
struct KafkaMockCommandTests {
    @Test("with --port, clients bootstrap through 127.0.0.1:PORT, produce and consume; the address is written and printed")
    func fixedBootstrapPort() async throws {
        let port = try freeLocalPort()
        let bootstrapFile = FileManager.default.temporaryDirectory.appendingPathComponent("kafka-bootstrap-\(UUID().uuidString)")
        let mock = SkaldProcess(
            arguments: [
                "kafka", "mock", "--brokers", "3", "--port", "\(port)", "--topic", "fixed-port:4", "--bootstrap-file",
                bootstrapFile.path,
            ],
            label: "kafka-mock")
        try mock.start()
        defer { mock.kill() }
        let bootstrap = "127.0.0.1:\(port)"
        try await eventually("the mock printed its address", timeout: .seconds(30)) { mock.log.contains(bootstrap) }
        #expect(try String(contentsOf: bootstrapFile, encoding: .utf8) == bootstrap + "\n")

        let producer = try KafkaProducer(configuration: mockKafka(bootstrap), logger: e2eLogger)
        let messages = (0..<20).map { KafkaOutgoingMessage(topic: "fixed-port", key: "k\($0)", value: "message \($0)") }
        for result in try await producer.send(messages) { _ = try result.get() }
        await producer.shutdown()

        var configuration = mockKafka(bootstrap)
        configuration.groupID = "fixed-port-reader"
        let consumer = try KafkaConsumer(configuration: configuration, topics: ["fixed-port"], logger: e2eLogger)
        let closing = Task {
            try await Task.sleep(for: .seconds(60))
            try? await consumer.close()
        }
        defer { closing.cancel() }
        var values: Set<String> = []
        while values.count < 20, let batch = try await consumer.nextBatch(maxCount: 100) {
            values.formUnion(batch.map(\.valueString))
        }
        try? await consumer.close()
        #expect(values == Set((0..<20).map { "message \($0)" }))

        #expect(mock.terminate() == 0, "\(mock.log.suffix(1_000))")
        #expect(!FileManager.default.fileExists(atPath: bootstrapFile.path), "the address file goes with the mock")
    }

    @Test("a --port another process holds is refused with a clear error")
    func portInUse() async throws {
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(holder) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(holder, $0, length) == 0 && listen(holder, 1) == 0 && getsockname(holder, $0, &length) == 0
            }
        }
        try #require(listening)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let bootstrapFile = FileManager.default.temporaryDirectory.appendingPathComponent("kafka-bootstrap-\(UUID().uuidString)")
        let mock = SkaldProcess(
            arguments: ["kafka", "mock", "--port", "\(port)", "--bootstrap-file", bootstrapFile.path], label: "kafka-mock")
        try mock.start()
        defer { mock.kill() }
        try await eventually("the mock exited", timeout: .seconds(30)) { !mock.isRunning }
        #expect(mock.exitStatus != 0)
        #expect(mock.log.contains("cannot listen on 127.0.0.1:\(port)"), "\(mock.log.suffix(1_000))")
    }
}

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import SkaldExamples
import SkaldKafka
import SkaldPostgres
import Skald
import SkaldTestSupport
import Testing

/// Logs quiet unless SKALD_E2E_TEST_LOG is set.
let e2eLogger: Logger = {
    var logger = Logger(label: "skald.e2e.test")
    logger.logLevel = ProcessInfo.processInfo.environment["SKALD_E2E_TEST_LOG"] == nil ? .critical : .debug
    return logger
}()

struct TestSetupError: Error, CustomStringConvertible {
    var description: String
}

/// The topics a PlaceOrder run needs: the participants', the start events', and the orchestrator's own.
let placeOrderTopics = InstantParticipants.topics + ["orders.events", "skald.replies", "skald.dead-letter", "skald.saga-events"]

/// A mock cluster with the PlaceOrder topics.
func placeOrderCluster() throws -> MockCluster {
    let cluster = try MockCluster(brokers: 1)
    for topic in placeOrderTopics {
        try cluster.createTopic(topic, partitions: 4)
    }
    return cluster
}

/// `skald kafka mock` with the PlaceOrder topics, in a process of its own: for tests that take
/// the brokers down. librdkafka's mock aborts its whole process when a broker it takes down
/// cannot get its port back; in a child, that fails the test instead of ending the test run.
final class MockKafkaProcess: Sendable {
    let process: SkaldProcess
    /// The cluster's `bootstrap.servers`.
    let bootstrapServers: String
    private let bootstrapFile: URL

    private init(process: SkaldProcess, bootstrapServers: String, bootstrapFile: URL) {
        self.process = process
        self.bootstrapServers = bootstrapServers
        self.bootstrapFile = bootstrapFile
    }

    /// Starts the mock and waits for its address.
    static func start() async throws -> MockKafkaProcess {
        let bootstrapFile = FileManager.default.temporaryDirectory.appendingPathComponent("kafka-bootstrap-\(UUID().uuidString)")
        let process = SkaldProcess(
            arguments: ["kafka", "mock", "--brokers", "1", "--bootstrap-file", bootstrapFile.path]
                + placeOrderTopics.flatMap { ["--topic", "\($0):4"] },
            label: "kafka-mock")
        try process.start()
        try await eventually("the Kafka mock started", timeout: .seconds(30)) {
            process.log.contains("skald: Kafka mock cluster with") || !process.isRunning
        }
        // The address from the file the mock wrote before it said it started: its log mixes in
        // whatever went to standard error first.
        let address = (try? String(contentsOf: bootstrapFile, encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.isRunning, let address, !address.isEmpty else {
            process.requestStop()
            try? FileManager.default.removeItem(at: bootstrapFile)
            throw TestSetupError(description: "skald kafka mock did not start:\n\(process.log.suffix(2_000))")
        }
        return MockKafkaProcess(process: process, bootstrapServers: address, bootstrapFile: bootstrapFile)
    }

    /// Takes the brokers down (SIGUSR1) and waits until they are.
    func setBrokersDown() async throws {
        try await signal(SIGUSR1, andWaitFor: "skald: brokers down")
    }

    /// Brings the brokers back up (SIGUSR2) and waits until they are.
    func setBrokersUp() async throws {
        try await signal(SIGUSR2, andWaitFor: "skald: brokers up")
    }

    /// Sends `signal`, then waits for the mock's next `line`, or its `skald: brokers not all …`
    /// line, which fails.
    private func signal(_ signal: Int32, andWaitFor line: String) async throws {
        let refusal = line.replacingOccurrences(of: "skald: brokers ", with: "skald: brokers not all ")
        let outcomes = { (log: String) in log.split(separator: "\n").filter { $0 == line || $0 == refusal } }
        let before = outcomes(process.log).count
        process.send(signal)
        try await eventually("the Kafka mock printed \(line)", timeout: .seconds(30)) {
            outcomes(process.log).count > before || !process.isRunning
        }
        let log = process.log
        guard process.isRunning, !outcomes(log).contains(Substring(refusal)) else {
            throw TestSetupError(description: "skald kafka mock: \(line) failed:\n\(log.suffix(2_000))")
        }
    }

    /// Stops the mock (SIGTERM) and waits for its exit.
    func stop() async {
        _ = await process.terminate()
    }

    /// Asks the mock to stop (SIGTERM) without waiting: for `defer` blocks. It stops gracefully,
    /// so the ports of brokers it took down are released.
    func stopNow() {
        process.requestStop()
    }

    deinit {
        process.requestStop()
        try? FileManager.default.removeItem(at: bootstrapFile)
    }
}

func mockKafka(_ bootstrap: String) -> KafkaConfiguration {
    var configuration = KafkaConfiguration(bootstrapServers: bootstrap)
    configuration.sessionTimeout = .seconds(6)
    configuration.fetchWaitMax = .milliseconds(5)
    configuration["heartbeat.interval.ms"] = "500"
    return configuration
}

/// Publishes `OrderCreated` domain events for orders `range`: each starts a PlaceOrder saga.
func publishOrders(_ range: Range<Int>, bootstrap: String) async throws {
    let producer = try KafkaProducer(configuration: mockKafka(bootstrap), logger: e2eLogger)
    var messages: [KafkaOutgoingMessage] = []
    for number in range {
        let event = OrderCreatedEvent(
            orderId: "order-\(number)", customerId: "customer-\(number % 50)",
            lines: [OrderLine(sku: "sku-\(number % 7)", quantity: 1 + number % 3)], amountCents: 500 + number)
        let envelope = MessageEnvelope(
            id: "order-created-\(number)", source: "order-service", type: OrderCreatedEvent.messageType, time: Date())
        messages.append(
            KafkaOutgoingMessage(
                topic: "orders.events", key: Array(event.orderId.utf8), value: Array(try JSONEncoder().encode(event)),
                headers: KafkaHeaders(envelope)))
    }
    for result in try await producer.send(messages) { _ = try result.get() }
    await producer.shutdown()
}

/// Reads a new member of `group` on `topics` until `enough` says the messages read so far
/// suffice, or `timeout` passes (the consumer is then closed, which ends the reading: racing
/// `nextBatch` against a timer could lose a batch taken just then).
func readAsNewMember(
    of group: String, topics: [String], bootstrap: String, timeout: Duration = .seconds(60),
    until enough: ([KafkaMessage]) -> Bool
) async throws -> [KafkaMessage] {
    var configuration = mockKafka(bootstrap)
    configuration.groupID = group
    let reader = try KafkaConsumer(configuration: configuration, topics: topics, logger: e2eLogger)
    let closing = Task {
        try await Task.sleep(for: timeout)
        try? await reader.close()
    }
    defer { closing.cancel() }
    var messages: [KafkaMessage] = []
    while !enough(messages), let batch = try await reader.nextBatch(maxCount: 100) {
        messages += batch
    }
    try? await reader.close()
    return messages
}

/// A process of the built `skald` executable (`skald serve`, `skald examples serve`),
/// started, killed and stopped by a test; its output goes to a log file the test can show.
final class SkaldProcess: @unchecked Sendable {
    private let arguments: [String]
    private let environment: [String: String]
    private var process: Process?
    private let logFile: URL

    /// The Kafka settings every test process uses against the mock.
    static let mockKafkaProperties = "session.timeout.ms=6000,heartbeat.interval.ms=500,fetch.wait.max.ms=5"

    init(arguments: [String], environment: [String: String] = [:], label: String) {
        self.arguments = arguments
        self.environment = ProcessInfo.processInfo.environment
            .merging(["SKALD_KAFKA_PROPERTIES": Self.mockKafkaProperties]) { $1 }
            .merging(environment) { $1 }
        logFile = FileManager.default.temporaryDirectory.appendingPathComponent("skald-\(label)-\(UUID().uuidString).log")
    }

    /// `skald serve` against the test's Postgres and Kafka mock, with its admin HTTP server on
    /// `adminPort` (by default a port the system picks: tests run several at once).
    static func orchestrator(
        postgresURL: String, bootstrap: String, group: String = "skald-orchestrator", adminPort: Int = 0
    ) -> SkaldProcess {
        SkaldProcess(
            arguments: ["serve", "--postgres", postgresURL, "--kafka", bootstrap, "--log-level", "warning"],
            environment: ["SKALD_GROUP_ID": group, "SKALD_ADMIN_PORT": "\(adminPort)"], label: "serve")
    }

    /// The `skald` executable next to the test bundle.
    static func executable() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["SKALD_BINARY"] { return URL(fileURLWithPath: path) }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent("skald")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        throw TestSetupError(description: "no skald executable near \(CommandLine.arguments[0]); build with `swift build --build-tests`")
    }

    func start() throws {
        let process = Process()
        process.executableURL = try Self.executable()
        process.arguments = arguments
        process.environment = environment
        if !FileManager.default.fileExists(atPath: logFile.path) {
            _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: logFile)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        self.process = process
    }

    /// SIGKILL: no graceful anything, as a crash or an OOM kill would be. Waits for the exit.
    func kill() async {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        await waitForExit()
    }

    /// SIGKILL without waiting for the exit: for `defer` blocks and `deinit`, which cannot wait.
    func killNow() {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
    }

    /// SIGTERM, and waits for the exit status.
    func terminate() async -> Int32? {
        guard let process, process.isRunning else { return nil }
        process.terminate()
        await waitForExit()
        return process.terminationStatus
    }

    /// Waits for the exit by polling. `Process.waitUntilExit()` holds its thread until then, and
    /// a test's thread is one of the cooperative pool's, two on a 2-core machine: two graceful
    /// stops of a few seconds at once would hold every other test's task for that long.
    private func waitForExit() async {
        while let process, process.isRunning {
            do {
                try await Task.sleep(for: .milliseconds(20))
            } catch {
                process.waitUntilExit()  // cancelled: nothing else to wait with
            }
        }
    }

    /// Sends `signal` to the process, if it runs.
    func send(_ signal: Int32) {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, signal)
    }

    /// SIGTERM, without waiting for the exit (see ``isRunning`` and ``exitStatus``).
    func requestStop() {
        guard let process, process.isRunning else { return }
        process.terminate()
    }

    var isRunning: Bool { process?.isRunning ?? false }

    /// The exit status once the process has exited.
    var exitStatus: Int32? {
        guard let process, !process.isRunning else { return nil }
        return process.terminationStatus
    }

    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// The log goes with the process: failed expectations quote what they need of it, and
    /// `SKALD_KEEP_TEST_LOGS=1` keeps the files (in the temporary directory) for a closer look.
    deinit {
        killNow()
        if ProcessInfo.processInfo.environment["SKALD_KEEP_TEST_LOGS"] == nil {
            try? FileManager.default.removeItem(at: logFile)
        }
    }
}

/// A TCP port on 127.0.0.1 that no socket holds right now, for a child process to bind by
/// number (another process could take it before the child does, which is unlikely enough for a
/// test).
///
/// Picked below the kernel's ephemeral range, where no `bind` to port 0 lands. The in-process
/// mock Kafka brokers get their ports that way, and one taken down keeps its port bound but not
/// listening: a process binding the same number with `SO_REUSEADDR`, as servers do, could take
/// it, and librdkafka aborts the whole test process when the broker cannot listen there again.
func freeLocalPort() throws -> Int {
    if let ephemeralStart = ephemeralPortRangeStart(), ephemeralStart > 11_000 {
        for _ in 0..<200 {
            // Without SO_REUSEADDR, so that a port any socket holds, listening or not, fails.
            if let bound = try? boundLocalSocket(port: Int.random(in: 10_000..<ephemeralStart), listening: false) {
                close(bound.descriptor)
                return bound.port
            }
        }
    }
    let (descriptor, port) = try boundLocalSocket(listening: false)
    close(descriptor)
    return port
}

/// The first port of Linux's ephemeral range (`net.ipv4.ip_local_port_range`); nil elsewhere.
private func ephemeralPortRangeStart() -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8) else { return nil }
    return text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) }
}

/// A TCP socket bound to `port` of 127.0.0.1 (0: one the system picks), listening if asked: a
/// port a test holds so that another process cannot have it. The caller closes the descriptor.
func boundLocalSocket(port: Int = 0, listening: Bool) throws -> (descriptor: Int32, port: Int) {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw TestSetupError(description: "socket() failed: \(errno)") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
    }
    guard bound, !listening || listen(descriptor, 1) == 0 else {
        close(descriptor)
        throw TestSetupError(description: "cannot bind port \(port) of 127.0.0.1: \(errno)")
    }
    return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
}

/// An HTTP GET's status and body (the admin server's endpoints).
/// A JSON object from a GET that must answer 200.
func httpJSON(_ url: String) async throws -> [String: Any] {
    let (status, body) = try await httpGet(url)
    #expect(status == 200, "\(url): \(body.prefix(500))")
    return try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
}

func httpGet(_ url: String) async throws -> (status: Int, body: String) {
    let (data, response) = try await URLSession.shared.data(from: try #require(URL(string: url)))
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
}

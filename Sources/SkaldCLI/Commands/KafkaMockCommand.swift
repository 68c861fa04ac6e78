import ArgumentParser
import Foundation
import SkaldKafka

/// `skald kafka mock`: runs librdkafka's mock cluster as a process of its own.
///
/// The mock picks its own ports, so the command prints the bootstrap address and
/// writes it to a file that other processes (`skald serve`, the example services)
/// read; with `--port` it also listens on that port of 127.0.0.1 and relays bootstrap
/// connections to a broker (``BootstrapForwarder``), and that fixed address is the one
/// printed and written. It runs until SIGINT or SIGTERM.
struct KafkaMockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock",
        abstract: "Run an in-process Kafka mock cluster until interrupted."
    )

    @Option(help: "How many brokers the mock cluster runs.")
    var brokers: Int = 3

    @Option(help: "A file to write the bootstrap address to.")
    var bootstrapFile: String = ".skald/kafka-bootstrap"

    @Option(help: "A fixed port on 127.0.0.1 to reach the cluster at (its brokers still pick their own).")
    var port: Int?

    @Option(
        name: .customLong("topic"),
        help: "A topic to create, as NAME or NAME:PARTITIONS (repeatable)."
    )
    var topics: [String] = []

    func validate() throws {
        guard brokers >= 1 else { throw ValidationError("--brokers must be at least 1") }
        if let port, !(1...65_535).contains(port) { throw ValidationError("--port must be between 1 and 65535") }
        for topic in topics { _ = try TopicSpec(parsing: topic) }
    }

    func run() async throws {
        let cluster = try MockCluster(brokers: brokers)
        defer { cluster.shutdown() }
        for topic in topics {
            let spec = try TopicSpec(parsing: topic)
            try cluster.createTopic(spec.name, partitions: spec.partitions)
        }
        var bootstrap = cluster.bootstrapServers
        var forwarder: BootstrapForwarder?
        if let port {
            let broker = String(cluster.bootstrapServers.split(separator: ",").first ?? "")
            forwarder = try BootstrapForwarder(port: UInt16(port), broker: broker)
            bootstrap = "127.0.0.1:\(port)"
        }
        defer { forwarder?.stop() }
        let file = URL(fileURLWithPath: bootstrapFile)
        try FileManager.default.createDirectory(
            at: file.deletingLastPathComponent(), withIntermediateDirectories: true
        )
        try Data((bootstrap + "\n").utf8).write(to: file, options: .atomic)
        print(bootstrap)
        print("skald: Kafka mock cluster with \(brokers) brokers; bootstrap written to \(bootstrapFile)")
        // A supervisor reading our output through a pipe or a file needs the address now.
        fflush(nil)
        await ShutdownSignal.wait()
        try? FileManager.default.removeItem(at: file)
    }
}

/// A topic named on the command line as `NAME` or `NAME:PARTITIONS`.
struct TopicSpec {
    var name: String
    var partitions: Int

    init(parsing text: String) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard let first = parts.first, !first.isEmpty, parts.count <= 2 else {
            throw ValidationError("bad topic '\(text)': expected NAME or NAME:PARTITIONS")
        }
        name = String(first)
        if parts.count == 2 {
            guard let count = Int(parts[1]), count > 0 else {
                throw ValidationError("bad topic '\(text)': PARTITIONS must be a positive number")
            }
            partitions = count
        } else {
            partitions = 4
        }
    }
}

import ArgumentParser
import Foundation
import SkaldKafka
import UnixSignals

/// `skald kafka mock`: runs librdkafka's mock cluster as a process of its own.
///
/// The mock picks its own ports, so the command prints the bootstrap address and
/// writes it to a file that other processes (`skald serve`, the example services)
/// read; with `--port` it also listens on that port of 127.0.0.1 and relays bootstrap
/// connections to a broker (``BootstrapForwarder``), and that fixed address is the one
/// printed and written. It runs until SIGINT or SIGTERM.
///
/// An outage on demand, for demos and tests: SIGUSR1 takes every broker down (their
/// connections close and new ones are refused) and SIGUSR2 brings them back; each prints
/// `skald: brokers down` or `skald: brokers up` once done (`skald: brokers not all down`, after
/// the errors, when a broker refused). Wait for that line before the next signal: the two are
/// handled apart and may otherwise swap. In a process of its own, anything librdkafka's mock
/// does wrong meanwhile ends this process, not its clients'.
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
        // Trapped before the address is out: a client that sends SIGUSR1 as soon as it has
        // the address must not find the default action, which ends the process.
        let outageSignals = await UnixSignalsSequence(trapping: .sigusr1, .sigusr2)
        let outages = Task { [brokers] in
            for await signal in outageSignals {
                let direction = signal == .sigusr1 ? "down" : "up"
                var failed = false
                for id in 1...Int32(brokers) {
                    do {
                        if signal == .sigusr1 { try cluster.setBrokerDown(id) } else { try cluster.setBrokerUp(id) }
                    } catch {
                        failed = true
                        print("skald: broker \(id) could not be taken \(direction): \(error)")
                    }
                }
                print(failed ? "skald: brokers not all \(direction)" : "skald: brokers \(direction)")
                fflush(nil)
            }
        }
        try Data((bootstrap + "\n").utf8).write(to: file, options: .atomic)
        print(bootstrap)
        print("skald: Kafka mock cluster with \(brokers) brokers; bootstrap written to \(bootstrapFile)")
        // A supervisor reading our output through a pipe or a file needs the address now.
        fflush(nil)
        await ShutdownSignal.wait()
        // The cluster goes when this returns: no outage may be half-way through it then.
        outages.cancel()
        await outages.value
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

import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Listens on a fixed local port and relays each connection, byte for byte, to one broker of
/// the mock cluster: a fixed bootstrap address for a cluster whose brokers pick their own ports.
///
/// A Kafka client needs its bootstrap address only for its first connection: the metadata it
/// gets there names every broker's own address, and it connects to those directly. So relaying
/// the bootstrap connections is enough for `skald kafka mock --port 19092` to be reachable at
/// `127.0.0.1:19092` by any client (the project's, kcat, confluent-kafka).
///
/// A development tool with a handful of connections: each one gets two threads that copy with
/// blocking calls, away from the cooperative pool.
final class BootstrapForwarder: Sendable {
    /// The port it listens on (on 127.0.0.1).
    let port: UInt16
    private let listener: Int32
    private let target: sockaddr_in
    /// Whether `listener` is still open. Read and changed under the lock, so that ``stop()``
    /// never shuts down the number of a descriptor the accept loop has closed, which the process
    /// may since have given to another socket.
    private let listenerOpen = Mutex(true)

    /// Binds 127.0.0.1:`port` and starts relaying connections to `broker` (`HOST:PORT`, an IPv4
    /// address, as the mock cluster names its brokers).
    ///
    /// - Throws: ``BootstrapForwarderError`` when the broker address cannot be read or the port
    ///   cannot be bound (taken by another process, say).
    init(port: UInt16, broker: String) throws {
        let parts = broker.split(separator: ":")
        guard parts.count == 2, let brokerPort = UInt16(parts[1]) else {
            throw BootstrapForwarderError("cannot read the broker address '\(broker)'")
        }
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = brokerPort.bigEndian
        guard inet_pton(AF_INET, String(parts[0]), &target.sin_addr) == 1 else {
            throw BootstrapForwarderError("the broker address '\(broker)' is not an IPv4 address")
        }
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw BootstrapForwarderError("cannot open a socket: \(Self.lastError)") }
        var reuse: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 64) == 0 else {
            let reason = Self.lastError
            close(listener)
            throw BootstrapForwarderError("cannot listen on 127.0.0.1:\(port): \(reason)")
        }
        self.port = port
        self.listener = listener
        self.target = target
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "skald:bootstrap"
        thread.start()
    }

    /// Stops accepting connections; those already relayed end with their peers.
    func stop() {
        // Wakes the accept loop, which then closes the socket.
        listenerOpen.withLock { open in
            if open { shutdown(listener, Int32(SHUT_RDWR)) }
        }
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                // A connection reset before it was taken ends only that connection.
                if errno == EINTR || errno == ECONNABORTED { continue }
                break
            }
            relay(client)
        }
        listenerOpen.withLock { open in
            open = false
            close(listener)
        }
    }

    private func relay(_ client: Int32) {
        let broker = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var target = self.target
        let connected = broker >= 0 && withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(broker, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
        guard connected else {
            if broker >= 0 { close(broker) }
            close(client)
            return
        }
        var on: Int32 = 1
        for descriptor in [client, broker] {
            setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        }
        // Each direction copies until its source ends, then ends its destination's writing; the
        // second direction to finish closes both.
        let finished = Finished()
        for (source, destination) in [(client, broker), (broker, client)] {
            let thread = Thread {
                Self.copy(from: source, to: destination)
                shutdown(destination, Int32(SHUT_WR))
                if finished.count.add(1, ordering: .acquiringAndReleasing).newValue == 2 {
                    close(client)
                    close(broker)
                }
            }
            thread.name = "skald:bootstrap"
            thread.start()
        }
    }

    private static func copy(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            var written = 0
            while written < count {
                let sent = buffer.withUnsafeBytes { send(destination, $0.baseAddress! + written, count - written, Int32(MSG_NOSIGNAL)) }
                if sent < 0 && errno == EINTR { continue }
                guard sent > 0 else { return }
                written += sent
            }
        }
    }

    private static var lastError: String { String(cString: strerror(errno)) }

    /// How many directions of one relayed connection have ended.
    private final class Finished: Sendable {
        let count = Atomic(0)
    }
}

/// The bootstrap port could not be set up.
struct BootstrapForwarderError: Error, CustomStringConvertible {
    /// What went wrong.
    var description: String

    init(_ description: String) {
        self.description = description
    }
}

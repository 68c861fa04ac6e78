import Foundation
import Synchronization

/// Local ports kept out of the kernel's automatic assignment (`bind` to port 0, `connect`)
/// while this process holds them, through Linux's `net.ipv4.ip_local_reserved_ports`.
///
/// The mock Kafka cluster needs it: taking a mock broker down closes its listener and binds a
/// new socket to the same port at once, and bringing it up listens there again, and librdkafka
/// aborts the whole process when either fails. Meanwhile the port is an ordinary free port of
/// the ephemeral range, which another mock cluster's `bind(0)` or any outgoing connection may
/// take; with tests running side by side, one did (`rd_kafka_mock_broker_cmd: Assertion
/// 'mrkb->listen_s != -1'` in a CI run of session 27). A reserved port can still be bound by
/// number, which is all the broker does.
///
/// Best effort: only root may write the setting, and elsewhere than Linux there is none. The
/// setting is the machine's, so every port reserved here is given back (``release(_:)``); one
/// left behind by a process that crashed in between stays out of automatic assignment until
/// reboot, which costs nothing.
package enum ReservedPorts {
    private static let setting = "/proc/sys/net/ipv4/ip_local_reserved_ports"
    /// Serializes this process's read-modify-writes of the setting.
    private static let lock = Mutex(())
    /// Serializes them across processes (`flock`): two that read the same list and write it
    /// back each with their own change would drop the other's port.
    private static let lockFile = "/tmp/skald-reserved-ports.lock"

    /// Adds `port` to the reserved ports; returns whether it is reserved now (false: the
    /// setting could not be read or written).
    @discardableResult
    package static func reserve(_ port: Int) -> Bool {
        update { ports in ports.insert(port) }
    }

    /// Takes `port` out of the reserved ports again; best effort, like ``reserve(_:)``: a
    /// setting that cannot be written leaves the port reserved, which costs nothing but the port.
    package static func release(_ port: Int) {
        _ = update { ports in ports.remove(port) }
    }

    /// The reserved ports, as the setting lists them (ranges expanded); nil when it cannot be read.
    package static func current() -> Set<Int>? {
        guard let text = try? String(contentsOfFile: setting, encoding: .utf8) else { return nil }
        return parse(text)
    }

    /// Reads `a,b-c,…` (the setting's format) into ports.
    package static func parse(_ text: String) -> Set<Int> {
        var ports: Set<Int> = []
        for item in text.split(whereSeparator: { $0 == "," || $0.isWhitespace }) {
            let bounds = item.split(separator: "-").compactMap { Int($0) }
            if bounds.count == 1 {
                ports.insert(bounds[0])
            } else if bounds.count == 2, bounds[0] <= bounds[1] {
                ports.formUnion(bounds[0]...bounds[1])
            }
        }
        return ports
    }

    /// Writes `ports` in the setting's format, consecutive ports as ranges.
    package static func format(_ ports: Set<Int>) -> String {
        var parts: [String] = []
        var sorted = ports.sorted()[...]
        while let first = sorted.popFirst() {
            var last = first
            while sorted.first == last + 1 { last = sorted.removeFirst() }
            parts.append(first == last ? "\(first)" : "\(first)-\(last)")
        }
        return parts.joined(separator: ",")
    }

    private static func update(_ change: (inout Set<Int>) -> Void) -> Bool {
        #if os(Linux)
        // Only root may write the setting; nobody else takes the lock, or creates its file.
        guard access(setting, W_OK) == 0 else { return false }
        return lock.withLock { _ in
            // Read-only is enough for flock, and opens a file another user created in /tmp,
            // where `fs.protected_regular` refuses an O_CREAT open of it even to root.
            var lockDescriptor = open(lockFile, O_RDONLY | O_CLOEXEC)
            if lockDescriptor < 0 && errno == ENOENT {
                lockDescriptor = open(lockFile, O_RDONLY | O_CREAT | O_CLOEXEC, 0o644)
            }
            if lockDescriptor >= 0 {
                while flock(lockDescriptor, LOCK_EX) != 0 && errno == EINTR {}
            }
            defer { if lockDescriptor >= 0 { close(lockDescriptor) } }
            guard var ports = current() else { return false }
            change(&ports)
            // An empty string is not accepted; a newline is.
            let text = format(ports) + "\n"
            let file = open(setting, O_WRONLY | O_CLOEXEC)
            guard file >= 0 else { return false }
            defer { close(file) }
            let written = text.utf8CString.withUnsafeBytes { write(file, $0.baseAddress, text.utf8.count) }
            return written == text.utf8.count
        }
        #else
        return false
        #endif
    }
}

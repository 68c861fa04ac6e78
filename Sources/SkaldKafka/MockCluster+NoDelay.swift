#if os(Linux) && canImport(Glibc)
import Glibc
#endif

extension MockCluster {
    /// Turns Nagle's algorithm off on the mock brokers' sockets, as real brokers do.
    ///
    /// librdkafka 2.0.2's mock brokers leave `TCP_NODELAY` unset. A response written in two
    /// parts then waits for the client's delayed ACK: about 40 ms on every request that is
    /// not followed by another at once, which made each Kafka hop of a saga cost ~40 ms in
    /// the demo (docs/benchmarks-kafka.md). The mock offers no setting for it, so this finds
    /// its sockets — those bound to a broker's port, the listeners included — among this
    /// process's descriptors. On Linux an accepted socket inherits `TCP_NODELAY` from its
    /// listener, so setting it once after start-up covers every later connection.
    ///
    /// - Returns: how many sockets were changed.
    /// Only on Linux with glibc (where `/proc/self/fd` lists the descriptors); elsewhere, and
    /// with `SKALD_MOCK_NAGLE` set, it changes nothing.
    @discardableResult
    static func disableNagle(onPortsOf bootstrapServers: String) -> Int {
        #if os(Linux) && canImport(Glibc)
        guard getenv("SKALD_MOCK_NAGLE") == nil else { return 0 }
        let ports = Set(bootstrapServers.split(separator: ",").compactMap { server in
            server.split(separator: ":").last.flatMap { UInt16($0) }
        })
        guard !ports.isEmpty, let directory = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(directory) }
        var changed = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let descriptor = Int32(name), let port = localTCPPort(of: descriptor), ports.contains(port) else { continue }
            var on: Int32 = 1
            if setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size)) == 0 {
                changed += 1
            }
        }
        return changed
        #else
        return 0
        #endif
    }

    #if os(Linux) && canImport(Glibc)

    /// The local port of an IPv4 or IPv6 TCP socket; nil for anything else.
    private static func localTCPPort(of descriptor: Int32) -> UInt16? {
        var type: Int32 = 0
        var typeLength = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_TYPE, &type, &typeLength) == 0, type == Int32(SOCK_STREAM.rawValue)
        else { return nil }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
            }
        default:
            return nil
        }
    }
    #endif
}

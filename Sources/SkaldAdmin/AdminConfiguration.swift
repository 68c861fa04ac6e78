/// Where the admin HTTP server listens, and how long readiness may take.
public struct AdminConfiguration: Sendable {
    /// The address to bind: `127.0.0.1` unless configured, so an orchestrator does not
    /// expose its operations on every interface by accident (a container sets `0.0.0.0`).
    public var host: String
    /// The port; 0 lets the system choose one (tests).
    public var port: Int
    /// How long each readiness check may take before it counts as failed.
    public var readinessTimeout: Duration
    /// Host names (without port) the saga API answers to besides loopback ones, and whose
    /// origins it accepts: the public name of a reverse proxy in front of a server bound to
    /// loopback, for instance.
    public var allowedHosts: [String] = []

    /// A configuration; by default `127.0.0.1:8080` with two-second readiness checks.
    public init(host: String = "127.0.0.1", port: Int = 8080, readinessTimeout: Duration = .seconds(2)) {
        self.host = host
        self.port = port
        self.readinessTimeout = readinessTimeout
    }

    /// Whether `host` (a name, no port) is a loopback address, reachable only from this machine:
    /// `localhost`, `::1`, or an IPv4 address in 127.0.0.0/8 written as one (not a name that starts
    /// like one, such as `127.0.0.1.attacker.example`).
    public static func isLoopback(_ host: String) -> Bool {
        let host = host.lowercased()
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "127" else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isASCII) && part.allSatisfy(\.isNumber) && Int(part).map { $0 <= 255 } == true
        }
    }
}

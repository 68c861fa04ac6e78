/// Where the admin HTTP server listens, and how long readiness may take.
public struct AdminConfiguration: Sendable {
    /// The address to bind: `127.0.0.1` unless configured, so an orchestrator does not
    /// expose its operations on every interface by accident (a container sets `0.0.0.0`).
    public var host: String
    /// The port; 0 lets the system choose one (tests).
    public var port: Int
    /// How long each readiness check may take before it counts as failed.
    public var readinessTimeout: Duration

    /// A configuration; by default `127.0.0.1:8080` with two-second readiness checks.
    public init(host: String = "127.0.0.1", port: Int = 8080, readinessTimeout: Duration = .seconds(2)) {
        self.host = host
        self.port = port
        self.readinessTimeout = readinessTimeout
    }

    /// Whether `host` is a loopback address, reachable only from this machine.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

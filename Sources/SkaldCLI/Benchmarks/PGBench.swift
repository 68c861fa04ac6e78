import ArgumentParser
import Foundation

/// Runs `pgbench` with a custom script, for the benchmarks' ceilings.
enum PGBench {
    /// The newest `/usr/lib/postgresql/*/bin/pgbench`.
    static func find() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        for version in versions.compactMap(Int.init).sorted(by: >) {
            let path = "\(root)/\(version)/bin/pgbench"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw ValidationError("pgbench not found under \(root)/*/bin; install postgresql or pass --pgbench")
    }

    /// Turns a statement with `$1`, `$2`, … binds into a pgbench command using `variables`
    /// (`$1` becomes `:` + `variables[0]`), on one line and ended by a semicolon.
    static func command(_ sql: String, _ variables: String...) -> String {
        var text = sql
        // Highest first, so that `$1` never eats the start of `$10`.
        for (index, variable) in variables.enumerated().reversed() {
            text = text.replacingOccurrences(of: "$\(index + 1)", with: ":\(variable)")
        }
        let oneLine = text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .joined(separator: " ")
        return oneLine + ";"
    }

    /// What one pgbench run reports.
    struct Outcome {
        /// Transactions per second, without the initial connection time.
        var transactionsPerSecond: Double
        /// Transactions completed.
        var transactions: Int
        /// The average latency of each command of the script, in milliseconds and in script
        /// order (one per line when every command is one line); empty unless asked for.
        var commandLatencies: [Double]
    }

    /// Runs `script` with `clients` clients (one thread each) for `seconds` in prepared mode.
    ///
    /// pgbench runs from a fresh thread with no signals blocked. A child inherits its spawning
    /// thread's signal mask, and Swift's cooperative threads block signals: pgbench would then
    /// never receive the SIGALRM that ends its `-T` run (nor a SIGTERM), and would run forever.
    /// With `reportingLatencies`, pgbench also times every command (`-r`).
    static func run(
        executable: String, url: String, script: String, clients: Int, seconds: Int,
        variables: [String: String] = [:], reportingLatencies: Bool = false
    ) async throws -> Outcome {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Outcome, any Error>) in
            let thread = Thread {
                var none = sigset_t()
                sigemptyset(&none)
                pthread_sigmask(SIG_SETMASK, &none, nil)
                continuation.resume(with: Result {
                    try spawn(executable: executable, url: url, script: script, clients: clients,
                              seconds: seconds, variables: variables, reportingLatencies: reportingLatencies)
                })
            }
            thread.name = "skald-bench-pgbench"
            thread.start()
        }
    }

    private static func spawn(
        executable: String, url: String, script: String, clients: Int, seconds: Int, variables: [String: String],
        reportingLatencies: Bool
    ) throws -> Outcome {
        let scriptURL = FileManager.default.temporaryDirectory
            .appendingPathComponent("skald-bench-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString).sql")
        try script.write(to: scriptURL, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: scriptURL) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-n", "-M", "prepared", "-c", String(clients), "-j", String(clients), "-T", String(seconds)]
            + (reportingLatencies ? ["-r"] : [])
            + variables.sorted { $0.key < $1.key }.flatMap { ["-D", "\($0.key)=\($0.value)"] }
            + ["-f", scriptURL.path, url]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw ValidationError("pgbench failed (exit \(process.terminationStatus)):\n\(text)")
        }
        // "tps = 875.123456 (without initial connection time)"
        // "number of transactions actually processed: 1234"
        let processed = "number of transactions actually processed: "
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
            let tps = Double(line.dropFirst("tps = ".count).prefix { $0 != " " }),
            let count = text.split(separator: "\n").first(where: { $0.hasPrefix(processed) })
                .flatMap({ Int($0.dropFirst(processed.count).prefix { $0.isNumber }) })
        else {
            throw ValidationError("cannot find the tps line in pgbench's output:\n\(text)")
        }
        if let failed = text.split(separator: "\n").first(where: { $0.contains("failed transactions") }),
            !failed.contains(" 0 (")
        {
            print("  pgbench \(failed.trimmingCharacters(in: .whitespaces))")
        }
        // "statement latencies in milliseconds and failures:", then "   14.263   0  SELECT …" per command.
        let lines = text.split(separator: "\n")
        let latencies = lines.drop { !$0.hasPrefix("statement latencies") }.dropFirst()
            .compactMap { line in line.split(separator: " ").first.flatMap { Double($0) } }
        return Outcome(transactionsPerSecond: tps, transactions: count, commandLatencies: latencies)
    }
}

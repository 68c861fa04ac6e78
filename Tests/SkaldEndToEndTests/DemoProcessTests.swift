import Foundation
import SkaldTestSupport
import Testing

/// `skald demo` as a person runs it: its own Kafka mock, a Postgres URL, output into a file.
@Suite("skald demo as a process", .serialized)
struct DemoProcessTests {
    @Test("under --serve the summary reaches a log file while the demo keeps running, and SIGTERM stops it cleanly")
    func summaryWrittenWhileServing() async throws {
        let storeURL = try await TestPostgres.freshStore("demo")
        let migrations = TestPostgres.repositoryRoot.appendingPathComponent("schemas/postgres").path
        let demo = SkaldProcess(
            arguments: ["demo", "--postgres", storeURL, "--migrations", migrations, "--orders", "20", "--serve", "--no-admin"],
            label: "demo")
        try demo.start()
        defer { demo.killNow() }
        // Standard output into a file is block buffered: before, the summary stayed in the
        // buffer until the demo exited, which under --serve is only when it is stopped.
        try await eventually("the summary is in the log", timeout: .seconds(240), poll: .milliseconds(500)) {
            demo.log.contains("result: CONSISTENT")
        }
        // Where the latency went: 17 completed orders of five commands, order 7 sold out (three),
        // orders 3 and 13 declined (five each).
        #expect(demo.log.contains("a step's round trip     p50 "), "\(demo.log.suffix(2_000))")
        #expect(demo.log.contains(" over 98 commands; p50 "), "\(demo.log.suffix(2_000))")
        #expect(demo.isRunning, "--serve keeps everything running after the summary")
        #expect(await demo.terminate() == 0, "\(demo.log.suffix(2_000))")
        #expect(demo.log.contains("skald demo: stopped cleanly"))
    }
}

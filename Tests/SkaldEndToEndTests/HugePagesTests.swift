import Foundation
import SkaldTestSupport
import Testing

/// `scripts/postgres.sh` maps a throwaway cluster's shared memory in huge pages when it may
/// set `vm.nr_hugepages` (root on Linux), and leaves it alone when told to.
@Suite("Throwaway Postgres in huge pages")
struct HugePagesTests {
    /// Root may raise `vm.nr_hugepages`; anyone else gets the ordinary pages and no test here.
    static var mayReserve: Bool { getuid() == 0 && access("/proc/sys/vm/nr_hugepages", W_OK) == 0 }

    /// Whether a process maps memory from the huge page pool: Linux names such a mapping
    /// `/anon_hugepage` in `/proc/PID/maps`.
    static func mapsHugePages(_ pid: Int32) throws -> Bool {
        try String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8).contains("anon_hugepage")
    }

    /// The huge page pool's counts from `/proc/meminfo`, for a failure's message.
    static func hugePagePool() -> String {
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        return meminfo.split(separator: "\n").filter { $0.hasPrefix("HugePages_") }.joined(separator: ", ")
    }

    @Test(
        "A cluster maps its shared memory in huge pages, one started with SKALD_POSTGRES_HUGE_PAGES=0 does not, and both work",
        .enabled(if: mayReserve, "only root may set vm.nr_hugepages")
    )
    func sharedMemoryInHugePages() async throws {
        let huge = try await TestPostgres.PrivateCluster.start("huge")
        let plain = try await TestPostgres.PrivateCluster.start("plain", hugePages: false)
        do {
            #expect(
                try Self.mapsHugePages(try await huge.postmasterProcessID()),
                "the shared memory is in huge pages; the pool now: \(Self.hugePagePool())"
            )
            #expect(try !Self.mapsHugePages(try await plain.postmasterProcessID()), "the opted-out cluster uses ordinary pages")
            for cluster in [huge, plain] {
                #expect(try await TestPostgres.count(cluster.url, "SELECT count(*)::bigint FROM pg_class") > 0)
            }
        } catch {
            await huge.stop()
            await plain.stop()
            throw error
        }
        await huge.stop()
        await plain.stop()
    }
}

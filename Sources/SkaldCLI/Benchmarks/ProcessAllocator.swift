import Foundation

/// Which `malloc` this process runs on, for benchmark and demo output.
///
/// The shipped `skald` links jemalloc (Package.swift); a build without it, or a binary run
/// under `LD_PRELOAD`, may differ, and CPU per saga moves by about a tenth between the two
/// allocators, so every measurement says which one it had.
enum ProcessAllocator {
    /// "jemalloc 5.3.0" when jemalloc serves this process's allocations, otherwise "glibc malloc".
    static let name: String = {
        #if os(Linux)
        // jemalloc's control entry point, found wherever jemalloc was loaded from (linked or
        // preloaded); `RTLD_DEFAULT` is the null handle on glibc.
        typealias MallocControl = @convention(c) (
            UnsafePointer<CChar>?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?, UnsafeMutableRawPointer?, Int
        ) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallctl") else { return "glibc malloc" }
        let mallocControl = unsafeBitCast(symbol, to: MallocControl.self)
        var version: UnsafePointer<CChar>?
        var length = MemoryLayout<UnsafePointer<CChar>?>.size
        let status = withUnsafeMutablePointer(to: &version) { pointer in
            mallocControl("version", pointer, &length, nil, 0)
        }
        guard status == 0, let version else { return "jemalloc" }
        // "5.3.0-0-g54eaed1d…": the release, without the git describe suffix.
        let release = String(cString: version).split(separator: "-").first.map(String.init) ?? ""
        return "jemalloc \(release)"
        #else
        return "the system malloc"
        #endif
    }()
}

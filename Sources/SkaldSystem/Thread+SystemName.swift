import Foundation

extension Thread {
    /// Starts a thread that runs `body`, named `name` for the system (at most 15 bytes kept,
    /// Linux's limit): in debuggers, `top -H` and `/proc/<pid>/task/<tid>/comm`, where the
    /// benchmarks tell the Postgres connections' threads (`skald-postgres`) and the Kafka
    /// clients' poll threads (`skald-poll-p`, `skald-poll-c`) apart from the rest.
    ///
    /// On Linux, Foundation does not pass a `Thread.name` set before `start()` to the system,
    /// and a new thread inherits the name of the one that started it, a Dispatch worker's
    /// ("…root.default-qos"). So the thread writes its name to `/proc/thread-self/comm`
    /// itself: `pthread_setname_np` is a GNU extension that Swift's Glibc module does not
    /// export.
    package static func startNamed(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread {
            #if os(Linux)
            let file = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
            if file >= 0 {
                let bytes = Array(name.utf8.prefix(15))
                _ = bytes.withUnsafeBytes { write(file, $0.baseAddress, $0.count) }
                close(file)
            }
            #endif
            body()
        }
        thread.name = name
        thread.start()
    }
}

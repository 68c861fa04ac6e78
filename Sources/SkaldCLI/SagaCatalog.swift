public import Skald
import Synchronization

/// The sagas the `skald` commands run: set once by the executable before the commands parse.
///
/// ArgumentParser builds commands from static types, so the registry cannot be passed
/// in; a team's own executable calls ``SkaldCommand/main(sagas:)`` with its registry.
enum SagaCatalog {
    private static let storage = Mutex(SagaRegistry())

    static var registry: SagaRegistry {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
}

extension SkaldCommand {
    /// Runs the command line with `sagas` as the sagas `serve`, `replay` and `demo` run.
    public static func main(sagas: SagaRegistry) async {
        SagaCatalog.registry = sagas
        await main()
    }
}

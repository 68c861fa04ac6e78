public import Skald
public import SkaldRuntime
import Synchronization

/// The sagas the `skald` commands run: set once by the executable before the commands parse.
///
/// ArgumentParser builds commands from static types, so the registry cannot be passed
/// in; a team's own executable calls ``SkaldCommand/main(sagas:)`` with its registry.
enum SagaCatalog {
    private static let storage = Mutex(SagaRegistry())
    private static let projectionStorage = Mutex<[any SagaProjection]>([])

    static var registry: SagaRegistry {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }

    /// The read models `serve` and `demo` keep up to date, and `projections` lists and rebuilds.
    static var projections: [any SagaProjection] {
        get { projectionStorage.withLock { $0 } }
        set { projectionStorage.withLock { $0 = newValue } }
    }

    /// The registered projection called `name`.
    static func projection(named name: String) -> (any SagaProjection)? {
        projections.first { $0.name == name }
    }
}

extension SkaldCommand {
    /// Runs the command line with `sagas` as the sagas `serve`, `replay` and `demo` run.
    public static func main(sagas: SagaRegistry) async {
        await main(sagas: sagas, projections: [])
    }

    /// Runs the command line with `sagas`, and `projections` as the read models `serve` and
    /// `demo` keep up to date and `skald projections` lists and rebuilds.
    public static func main(sagas: SagaRegistry, projections: [any SagaProjection]) async {
        SagaCatalog.registry = sagas
        SagaCatalog.projections = projections
        await main()
    }
}

import Skald
import SkaldCLI
import SkaldExamples

/// The `skald` executable: the Skald commands with the example sagas registered.
@main
struct SkaldMain {
    static func main() async {
        var sagas = SagaRegistry()
        do {
            try sagas.register(placeOrder)
        } catch {
            print("skald: the example sagas do not validate: \(error)")
            return
        }
        await SkaldCommand.main(sagas: sagas, projections: [OrderBoardProjection()])
    }
}

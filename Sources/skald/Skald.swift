import SkaldCLI

/// The `skald` executable: the Skald commands with the example sagas registered.
@main
struct SkaldMain {
    static func main() async {
        await SkaldCommand.main()
    }
}

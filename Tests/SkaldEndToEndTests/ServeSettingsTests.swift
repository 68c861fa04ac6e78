import Foundation
import Testing

@testable import SkaldCLI

/// `skald serve` reads a JSON file (then the environment, then flags); these use the file, since
/// the environment is shared by every test in the process.
@Suite("skald serve settings: the inbox retention")
struct ServeSettingsTests {
    private func load(_ json: String) async throws -> ServeSettings {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("skald-serve-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        return try await ServeSettings.load(configFile: file.path, postgres: "postgres://127.0.0.1:1/none", kafka: "127.0.0.1:1")
    }

    @Test("14 days unless set; 0 keeps ids forever; a negative value is refused with the key's name")
    func inboxRetention() async throws {
        #expect(try await load("{}").orchestrator.inboxRetention == .seconds(1_209_600))
        #expect(try await load(#"{"skald": {"inbox": {"retentionSeconds": 3600}}}"#).orchestrator.inboxRetention == .seconds(3600))
        #expect(try await load(#"{"skald": {"inbox": {"retentionSeconds": 0}}}"#).orchestrator.inboxRetention == nil)
        await #expect {
            _ = try await load(#"{"skald": {"inbox": {"retentionSeconds": -1}}}"#)
        } throws: { error in
            "\(error)".contains("skald.inbox.retentionSeconds")
        }
    }
}

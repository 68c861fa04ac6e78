import Skald
import SkaldTestSupport
import Testing

@testable import SkaldRuntime

/// The instance cache against a model of its policy: bounded, final sagas dropped, and when
/// full the saga of lowest rank forgotten, exactly, however long the history.
@Suite("Instance cache: bounded, lowest rank evicted")
struct InstanceCacheTests {
    private static let saga = transferSaga()

    private static func entry(_ sagaId: String, version: Int) -> InstanceCache.Entry {
        InstanceCache.Entry(instance: saga.newInstance(sagaId: sagaId), traceparent: "v\(version)")
    }

    @Test("random stores and finishes over 200 sagas with room for 50: the cache holds exactly the model's sagas", arguments: [1, 2, 3, 4, 5] as [UInt64])
    func followsTheModel(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let capacity = 50
        let cache = InstanceCache(capacity: capacity)
        var model: [String: Int] = [:]  // saga id → version stored
        let ids = (0..<200).map { "Transfer-\($0)" }
        var version = 0
        for round in 0..<3_000 {
            var batch: [(entry: InstanceCache.Entry, isFinal: Bool)] = []
            for _ in 0...random.below(6) {
                version += 1
                let id = random.pick(ids)
                let isFinal = random.chance(15)
                batch.append((Self.entry(id, version: version), isFinal))
                if isFinal {
                    model[id] = nil
                } else {
                    if model[id] == nil, model.count >= capacity {
                        let lowest = model.keys.min { (InstanceCache.rank(of: $0), $0) < (InstanceCache.rank(of: $1), $1) }!
                        model[lowest] = nil
                    }
                    model[id] = version
                }
            }
            cache.store(batch)
            #expect(cache.count == model.count, "round \(round)")
            for id in ids {
                #expect(cache.entry(id)?.traceparent == model[id].map { "v\($0)" }, "round \(round): \(id)")
            }
        }
    }

    @Test("a cache of capacity zero holds nothing; removeAll forgets everything")
    func edges() {
        let empty = InstanceCache(capacity: 0)
        empty.store([(Self.entry("Transfer-1", version: 1), false)])
        #expect(empty.count == 0 && empty.entry("Transfer-1") == nil)

        let cache = InstanceCache(capacity: 10)
        cache.store((0..<10).map { (Self.entry("Transfer-\($0)", version: 1), false) })
        #expect(cache.count == 10)
        cache.removeAll()
        #expect(cache.count == 0 && cache.entry("Transfer-3") == nil)
        cache.store([(Self.entry("Transfer-3", version: 2), false)])
        #expect(cache.entry("Transfer-3")?.traceparent == "v2")
    }
}

import PaymentCore
import PaymentRedis
import PaymentStoreTesting
import RedisClient
import RedisTestSupport
import Testing

/// The store contract (Tests/PaymentStoreTesting/StoreContract.swift) against
/// `RedisIdempotencyStore` on a real redis-server: the Lua scripts are the specification
/// the in-memory store (PaymentCoreTests) is checked against too. Time passes for real
/// here (`Task.sleep`), where the in-memory run moves a clock: a timing suite, run alone,
/// because the bucket check needs its calls within a second of each other.
@Suite("the store contract on a real redis-server", .redisServer())
struct RedisStoreContractTimingTests {
    @Test(arguments: StoreContract.names)
    func contract(_ name: String) async throws {
        try await withSuiteRedis { redis async throws in
            // Keys of its own per check: the reconciler's queue is one key per prefix.
            let store = RedisIdempotencyStore(client: redis, keys: PaymentKeys(prefix: "contract\(UInt32.random(in: 0...UInt32.max)):"))
            try await StoreContract.run(name, on: StoreContract.Subject(store: store, advance: { try await Task.sleep(for: $0) }))
        }
    }
}

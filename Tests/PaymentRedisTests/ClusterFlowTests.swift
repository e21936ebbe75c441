import Logging
import PaymentCore
import PaymentRedis
import RedisClient
import RedisTestSupport
import Testing

@Suite("payment flow on a Redis Cluster", .redisCluster())
struct ClusterFlowTests {
    @Test func duplicatesChargeOnceAndUsersSpreadOverTheMasters() async throws {
        let cluster = try RedisCluster.required()
        var configuration = try RedisClientConfiguration(url: cluster.seedURLs, cluster: true)
        configuration.commandTimeout = .seconds(5)
        let redis = try RedisClient(configuration: configuration, logger: Logger(label: "cluster-flow"))
        let service = makeService(redis, latency: .milliseconds(10), userRateLimit: .init(name: "user", capacity: 100, refillPerSecond: 100))
        let users = (0..<12).map { uniqueUser("cluster-\($0)") }
        let payments = try users.map { try request(user: $0, key: "same-key") }
        let outcomes = await withTaskGroup(of: String.self) { group in
            for payment in payments {
                for _ in 0..<10 { group.addTask { await service.pay(payment).label } }
            }
            return await group.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
        }
        #expect(outcomes["succeeded"] == users.count, "\(outcomes)")
        #expect(Set(outcomes.keys).isSubset(of: ["succeeded", "replayed", "in_flight"]), "\(outcomes)")
        let store = RedisIdempotencyStore(client: redis)
        for payment in payments {
            #expect(try await store.ledger(for: payment.userID, tenant: nil).payments == 1)
        }
        // Every user's keys share one slot, and the users cover more than one master.
        let slots = Set(payments.map { ClusterKeySlot.slot(for: PaymentKeys().ledger($0.userID)) })
        #expect(slots.count > 1)
        await redis.shutdown()
    }
}

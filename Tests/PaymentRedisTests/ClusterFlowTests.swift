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

    @Test func unknownOutcomesOnEveryMasterAreReconciled() async throws {
        let cluster = try RedisCluster.required()
        var configuration = try RedisClientConfiguration(url: cluster.seedURLs, cluster: true)
        configuration.commandTimeout = .seconds(5)
        try await withClient(try RedisClient(configuration: configuration, logger: Logger(label: "cluster-reconcile"))) { redis async throws in
            // The queue is one key on one slot; the records are on their users' slots.
            let store = UnknownOutcomeTests.store(redis)
            let service = UnknownOutcomeTests.service(store, ScriptedProcessor(charges: [.unknown("dropped")]))
            let payments = try (0..<12).map { try request(user: uniqueUser("cluster-unknown-\($0)"), key: "k") }
            for payment in payments {
                #expect(await service.pay(payment).label == "outcome_unknown")
            }
            #expect(Set(payments.map { ClusterKeySlot.slot(for: store.keys.idempotency($0)) }).count > 1)
            let processor = ScriptedProcessor(lookups: [.charged(chargeID: "ch_c", amountMinor: 1_000, currency: "USD")])
            let reconciler = ReconcilerTests.reconciler(store, processor)
            var results: [Reconciler.Result] = []
            try await waitUntil(timeout: .seconds(20)) {
                results += try await reconciler.pass()
                return results.count(where: { $0 == .charged }) == payments.count
            }
            for payment in payments {
                let ledger = try await store.ledger(for: payment.userID, tenant: nil)
                #expect(ledger.payments == 1 && ledger.unknown.isEmpty)
            }
            #expect(try await store.counts() == UnknownCounts(pending: 0, unresolved: 0))
        }
    }
}

import Logging
import PaymentCore
import PaymentRedis
import RedisClient
import RedisTestSupport
import Testing

/// One master paused (SIGSTOP: its connections stay open, nothing is answered), as in the
/// seconds before a failover. `cluster-require-full-coverage no`, so the other masters keep
/// serving their slots once the paused one is marked failed. A payment needs two masters:
/// its user's, and the one its payment id's index (`pay:pid:<id>`) is on.
@Suite("payment flow on a Redis Cluster with a paused master", .redisCluster(arguments: ["--cluster-require-full-coverage", "no"]))
struct PausedMasterFlowTests {
    @Test func theOtherMastersGetTheScriptsAndServeTheirUsers() async throws {
        let cluster = try RedisCluster.required()
        let victim = cluster.nodes[2]
        var configuration = try RedisClientConfiguration(url: cluster.seedURLs, cluster: true)
        configuration.commandTimeout = .seconds(1)
        var logger = Logger(label: "cluster-flow")
        logger.logLevel = .critical
        try await withClient(try RedisClient(configuration: configuration, logger: logger)) { redis async throws in
            var live: [PaymentRequest] = []
            var dead: [PaymentRequest] = []
            var split: [PaymentRequest] = []
            var index = 0
            while live.count < 4 || dead.count < 2 || split.isEmpty {
                let payment = try request(user: uniqueUser("paused-\(index)"))
                index += 1
                let owner = try await cluster.owner(of: ClusterKeySlot.slot(for: PaymentKeys().ledger(payment.userID)))
                let paymentID = PaymentIdentity(for: payment, secret: .unset).paymentID
                let indexOwner = try await cluster.owner(of: ClusterKeySlot.slot(for: PaymentKeys().paymentIndex(paymentID)))
                if owner.port == victim.port {
                    if dead.count < 2 { dead.append(payment) }
                } else if indexOwner.port == victim.port {
                    if split.isEmpty { split.append(payment) }
                } else if live.count < 4 {
                    live.append(payment)
                }
            }
            _ = try await redis.sendToEveryNode(RedisCommand("SCRIPT", "FLUSH"))
            victim.pause()
            defer { victim.resume() }

            // The paused master must not keep the scripts from the others.
            try await PaymentScripts.ensureLoaded(on: redis)
            let exists = RedisCommand("SCRIPT", ["EXISTS"] + PaymentScripts.all.map { .string($0.sha1) })
            for node in cluster.nodes where node.port != victim.port {
                var nodeConfiguration = try RedisClientConfiguration(url: node.url)
                nodeConfiguration.commandTimeout = .seconds(5)
                try await withClient(try RedisClient(configuration: nodeConfiguration, logger: logger)) { node async throws in
                    #expect(try await node.send(exists) == .array(PaymentScripts.all.map { _ in .integer(1) }))
                }
            }
            let service = makeService(redis)
            for payment in live {
                #expect(await service.pay(payment).label == "succeeded", "a user on a live master")
            }
            for payment in dead {
                #expect(await service.pay(payment).label == "unavailable", "a user on the paused master")
            }
            // Its id could not be indexed, so it was never sent to the processor: nothing
            // charged, its key released, a plain 503 for the retry.
            for payment in split {
                #expect(await service.pay(payment).label == "unavailable", "a user on a live master, its payment id's index on the paused one")
                #expect(await service.pay(payment).label == "unavailable", "released: a retry is not held up by the first attempt's lease")
            }
        }
    }
}

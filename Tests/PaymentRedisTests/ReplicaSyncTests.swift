import Logging
import PaymentCore
import PaymentRedis
import RedisClient
import RedisTestSupport
import Testing

/// With `REDIS_WAIT_REPLICAS`, payments are refused before the processor while the
/// replicas are not there: what counts as a replica in sync, and that nothing is known
/// (so nothing let through) before the first look.
@Suite("replicas in sync", .redisServer())
struct ReplicaSyncTests {
    @Test func onlyOnlineReplicasThatAcknowledgedLatelyCount() {
        let info = """
            # Replication\r
            role:master\r
            connected_slaves:4\r
            slave0:ip=10.0.0.1,port=6379,state=online,offset=120,lag=0\r
            slave1:ip=10.0.0.2,port=6379,state=online,offset=120,lag=2\r
            slave2:ip=10.0.0.3,port=6379,state=online,offset=90,lag=3\r
            slave3:ip=10.0.0.4,port=6379,state=wait_bgsave,offset=0,lag=0\r
            master_repl_offset:120\r
            """
        #expect(ReplicaSync.inSyncReplicas(info) == 2)
        #expect(ReplicaSync.inSyncReplicas("# Replication\r\nrole:master\r\nconnected_slaves:0\r\n") == 0)
        #expect(ReplicaSync.inSyncReplicas("slave0:state=online,lag=x\r\nslave1:garbage\r\n") == 0)
    }

    @Test func nothingIsLetThroughBeforeTheFirstLookOrWithoutAReplica() async throws {
        try await withSuiteRedis { redis async throws in
            let sync = ReplicaSync(required: 1)
            let payment = try request(user: uniqueUser("replica-gate"))
            #expect(sync.shortfall(for: payment) == ReplicaShortfall(acknowledged: 0, required: 1), "unchecked: fail closed")
            await sync.refresh(redis)
            // The suite's redis-server has no replica.
            #expect(sync.shortfall(for: payment) == ReplicaShortfall(acknowledged: 0, required: 1))
            #expect(sync.shortShards.count == 1)
            #expect(ReplicaSync(required: 1).shortfall(for: payment) != nil)
        }
    }

    @Test func aReplicaInSyncLetsPaymentsThroughAndAPausedOneStopsThem() async throws {
        let master = try await RedisServer.start()
        defer { master.stop() }
        let replica = try await RedisServer.start(arguments: ["--replicaof", "127.0.0.1", "\(master.port)"])
        defer { replica.stop() }
        var configuration = try RedisClientConfiguration(url: master.url)
        configuration.commandTimeout = .seconds(2)
        try await withClient(try RedisClient(configuration: configuration, logger: Logger(label: "replica-sync"))) { redis async throws in
            let sync = ReplicaSync(required: 1)
            let payment = try request(user: uniqueUser("replica-in-sync"))
            try await waitUntil(timeout: .seconds(20)) {
                await sync.refresh(redis)
                return sync.shortfall(for: payment) == nil
            }
            #expect(sync.shortfall(for: payment) == nil)
            // A stopped replica sends no acknowledgement: its lag grows past the bound.
            replica.pause()
            defer { replica.resume() }
            try await waitUntil(timeout: .seconds(20)) {
                await sync.refresh(redis)
                return sync.shortfall(for: payment) != nil
            }
            #expect(sync.shortfall(for: payment) == ReplicaShortfall(acknowledged: 0, required: 1))
        }
    }
}

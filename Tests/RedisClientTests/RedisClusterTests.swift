import Logging
import NIOCore
import RedisClient
import RedisTestSupport
import Testing

/// A client for the suite's cluster (cluster mode), or for one of its nodes alone.
private func clusterClient(_ cluster: RedisCluster) throws -> RedisClient {
    var configuration = try RedisClientConfiguration(url: cluster.seedURLs, cluster: true)
    configuration.connectionsPerNode = 1
    configuration.commandTimeout = .seconds(5)
    return try RedisClient(configuration: configuration, logger: Logger(label: "cluster-test"))
}

private func nodeClient(_ node: RedisServer) throws -> RedisClient {
    try makeClient(node, timeout: .seconds(5))
}

@Suite("Redis Cluster", .redisCluster(), .serialized)
struct RedisClusterTests {
    @Test func keySlotsMatchTheServersClusterKeyslot() async throws {
        let cluster = try RedisCluster.required()
        try await withClient(try nodeClient(cluster.nodes[0])) { node async throws in
            var keys = ["", "{}", "{", "}", "}{", "{{a}}", "a{b}c{d}", "{a}", "foo{}{bar}", "foo{{bar}}zap", "foo{bar}{zap}",
                        "pay:{alice}:idem:k-1", "pay:{alice}:ledger", "é{ü}", "123456789", "{user1000}.following"]
            var random = SystemRandomNumberGenerator()
            for index in 0..<500 {
                let length = Int.random(in: 1...24, using: &random)
                keys.append("k\(index)-" + String((0..<length).map { _ in "ab{}:xyz0123".randomElement(using: &random)! }))
            }
            var mismatches: [String] = []
            for key in keys {
                let expected = try await node.send(RedisCommand("CLUSTER", "KEYSLOT", .string(key))).int
                if ClusterKeySlot.slot(for: key) != expected { mismatches.append(key) }
            }
            #expect(mismatches.isEmpty, "CRC16 slot differs from CLUSTER KEYSLOT for \(mismatches)")
            #expect(ClusterKeySlot.slot(for: "123456789") == 12_739, "the CRC16/XMODEM check value 0x31C3 mod 16384")
        }
    }

    @Test func commandsReachTheOwnerOfTheirSlot() async throws {
        let cluster = try RedisCluster.required()
        try await withClient(try clusterClient(cluster)) { client async throws in
            for index in 0..<300 {
                _ = try await client.send("SET", .string("spread:\(index)"), .string("v\(index)"))
            }
            for index in 0..<300 {
                #expect(try await client.send("GET", .string("spread:\(index)")).string == "v\(index)")
            }
            // The keys really are spread over every master.
            for node in cluster.nodes {
                let count = try await withNode(node) { try await $0.send("DBSIZE").int ?? 0 }
                #expect(count > 50, "node \(node.port) holds \(count) of the 300 keys")
            }
        }
    }

    @Test func scriptsAreRoutedByTheirFirstKeyAndReloadedWhereMissing() async throws {
        let cluster = try RedisCluster.required()
        let script = RedisScript("return redis.call('INCR', KEYS[1])")
        try await withClient(try clusterClient(cluster)) { client async throws in
            for index in 0..<30 {
                #expect(try await client.evaluate(script, keys: [.string("script:{\(index)}")], arguments: []) == .integer(1))
            }
            _ = try await client.sendToEveryNode(RedisCommand("SCRIPT", "FLUSH"))
            for index in 0..<30 {
                #expect(try await client.evaluate(script, keys: [.string("script:{\(index)}")], arguments: []) == .integer(2))
            }
        }
    }

    @Test func followsAskDuringAMigrationAndMovedAfterIt() async throws {
        let cluster = try RedisCluster.required()
        try await withClient(try clusterClient(cluster)) { client async throws in
            let key = "migrating:{slot-owner-test}"
            let slot = ClusterKeySlot.slot(for: key)
            _ = try await client.send("SET", .string(key), "before")
            // Find the owner and pick another node as the destination.
            var owner: RedisServer?
            for node in cluster.nodes where try await withNode(node, { try await $0.send("CLUSTER", "COUNTKEYSINSLOT", .integer(slot)).int }) == 1 {
                owner = node
            }
            let source = try #require(owner)
            let destination = try #require(cluster.nodes.first { $0.port != source.port })
            let sourceID = try #require(try await withNode(source) { try await $0.send("CLUSTER", "MYID").string })
            let destinationID = try #require(try await withNode(destination) { try await $0.send("CLUSTER", "MYID").string })

            // Migrating: the key moves, the slot does not yet. The source answers ASK.
            _ = try await withNode(destination) { try await $0.send("CLUSTER", "SETSLOT", .integer(slot), "IMPORTING", .string(sourceID)) }
            _ = try await withNode(source) { try await $0.send("CLUSTER", "SETSLOT", .integer(slot), "MIGRATING", .string(destinationID)) }
            _ = try await withNode(source) {
                try await $0.send(RedisCommand("MIGRATE", "127.0.0.1", .integer(destination.port), "", 0, 5000, "KEYS", .string(key)))
            }
            #expect(try await client.send("GET", .string(key)).string == "before", "ASK was followed with ASKING")

            // Done: every node learns the new owner. The client's map is stale: MOVED.
            for node in cluster.nodes {
                _ = try await withNode(node) { try await $0.send("CLUSTER", "SETSLOT", .integer(slot), "NODE", .string(destinationID)) }
            }
            #expect(try await client.send("GET", .string(key)).string == "before", "MOVED was followed")
            _ = try await client.send("SET", .string(key), "after")
            #expect(try await withNode(destination) { try await $0.send("GET", .string(key)).string } == "after")
        }
    }

    /// ASK to a node that lacks the script: NOSCRIPT comes from the ASK target, so the
    /// script must be loaded there (not on the slot's owner in the map, which has it), and
    /// EVALSHA sent there again with ASKING. Loading it on the owner would get NOSCRIPT again.
    @Test func evalshaAfterAskLoadsTheScriptOnTheAskTarget() async throws {
        let cluster = try RedisCluster.required()
        let script = RedisScript("return redis.call('GET', KEYS[1])")
        let key = "ask-noscript:{ask-target-test}"
        let slot = ClusterKeySlot.slot(for: key)
        try await withClient(try clusterClient(cluster)) { client async throws in
            _ = try await client.send("SET", .string(key), "before")
            #expect(try await client.evaluate(script, keys: [.string(key)], arguments: []).string == "before", "loaded on the owner")
            let source = try await cluster.owner(of: slot)
            let destination = try #require(cluster.nodes.first { $0.port != source.port })
            let sourceID = try #require(try await withNode(source) { try await $0.send("CLUSTER", "MYID").string })
            let destinationID = try #require(try await withNode(destination) { try await $0.send("CLUSTER", "MYID").string })
            _ = try await withNode(destination) { try await $0.send(RedisCommand("SCRIPT", "FLUSH")) }

            _ = try await withNode(destination) { try await $0.send("CLUSTER", "SETSLOT", .integer(slot), "IMPORTING", .string(sourceID)) }
            _ = try await withNode(source) { try await $0.send("CLUSTER", "SETSLOT", .integer(slot), "MIGRATING", .string(destinationID)) }
            _ = try await withNode(source) {
                try await $0.send(RedisCommand("MIGRATE", "127.0.0.1", .integer(destination.port), "", 0, 5000, "KEYS", .string(key)))
            }
            var failure: (any Error)?
            do {
                let value = try await client.evaluate(script, keys: [.string(key)], arguments: [])
                #expect(value.string == "before")
            } catch {
                failure = error
            }
            // Finish the migration whatever happened, so the suite's other tests see a stable slot.
            for node in cluster.nodes {
                _ = try await withNode(node) { try await $0.send("CLUSTER", "SETSLOT", .integer(slot), "NODE", .string(destinationID)) }
            }
            #expect(failure == nil, "EVALSHA after ASK to a node without the script: \(failure.map(String.init(describing:)) ?? "")")
            let exists = try await withNode(destination) { try await $0.send(RedisCommand("SCRIPT", "EXISTS", .string(script.sha1))) }
            #expect(exists == .array([.integer(1)]), "the script was loaded on the ASK target")
        }
    }

    /// Runs `body` with a plain client for one node of the cluster.
    private func withNode<T: Sendable>(_ node: RedisServer, _ body: (RedisClient) async throws -> T) async throws -> T {
        let client = try nodeClient(node)
        do {
            let result = try await body(client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw error
        }
    }
}

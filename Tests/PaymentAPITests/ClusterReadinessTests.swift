import HTTPTypes
import HummingbirdTesting
import PaymentAPI
import PaymentCore
import PaymentRedis
import RedisClient
import RedisTestSupport
import Testing

/// Readiness on a Redis Cluster says whether this pod can serve: one dead master out of
/// three leaves two thirds of the users payable, so the pod stays in rotation, /readyz
/// names the master and its slots, and only that master's users get 503 (and the payments
/// whose id's index, `pay:pid:<id>`, is on it: the live users here are chosen without).
/// `cluster-require-full-coverage no`, so the live masters keep serving their slots
/// once the dead one is marked failed (with `yes` Redis itself refuses every key then).
@Suite("readiness on a Redis Cluster with a dead master", .redisCluster(arguments: ["--cluster-require-full-coverage", "no"]))
struct ClusterReadinessTests {
    @Test func aKilledMasterLeavesThePodReadyAndFailsOnlyItsUsers() async throws {
        let cluster = try RedisCluster.required()
        let victim = cluster.nodes[1]
        var live: [String] = []
        var dead: [String] = []
        var index = 0
        while live.count < 4 || dead.count < 2 {
            let user = uniqueUser("ready-\(index)")
            index += 1
            // Every key of a user carries the hash tag {user}.
            let owner = try await cluster.owner(of: ClusterKeySlot.slot(for: "pay:{\(user)}:ledger"))
            let during = PaymentRequest(userID: try UserID(user), amountMinor: 1, currency: .usd, idempotencyKey: try IdempotencyKey("during"))
            let indexKey = PaymentKeys().paymentIndex(PaymentIdentity(for: during, secret: .unset).paymentID)
            let indexOwner = try await cluster.owner(of: ClusterKeySlot.slot(for: indexKey))
            if owner.port == victim.port {
                if dead.count < 2 { dead.append(user) }
            } else if live.count < 4, indexOwner.port != victim.port {
                live.append(user)
            }
        }
        let redis = try RedisClientConfiguration(url: cluster.seedURLs, cluster: true)
        let (liveUsers, deadUsers) = (live, dead)
        try await withApp(redisURL: cluster.nodes[0].url, { $0.redis.store = redis }) { client in
            #expect(try await client.waitForReadiness(.ok, timeout: .seconds(30)).status == .ok)
            for user in liveUsers + deadUsers {
                #expect(try await client.pay(payBody(user: user, key: "before")).status == .ok)
            }

            victim.kill()
            // Wait for a readiness check that saw the dead master: /readyz names it (or,
            // the old behaviour, went 503).
            let node = "127.0.0.1:\(victim.port)"
            var readyz = try await client.executeRequest(uri: "/readyz", method: .get, headers: [:], body: nil)
            try await waitUntil(timeout: .seconds(30)) {
                readyz = try await client.executeRequest(uri: "/readyz", method: .get, headers: [:], body: nil)
                return readyz.status != .ok || readyz.text.contains(node)
            }
            #expect(readyz.status == .ok, "one dead master of three: the pod still serves most users: \(readyz.text)")
            #expect(readyz.text.contains(node), "the reason names the unreachable master: \(readyz.text)")
            #expect(readyz.text.contains("slots"), "and its slots: \(readyz.text)")
            #expect(try await client.metric("redis_cluster_masters_unavailable") == 1, "a gauge for alerts")

            for user in liveUsers {
                #expect(try await client.pay(payBody(user: user, key: "during")).status == .ok, "a user on a live master")
            }
            for user in deadUsers {
                expectProblem(try await client.pay(payBody(user: user, key: "during")), .serviceUnavailable, type: "unavailable")
            }

            // The master comes back empty (no persistence, no scripts): the check loads
            // the scripts there and the reason goes away; its users are paid again.
            try await victim.restart()
            try await waitUntil(timeout: .seconds(30)) {
                readyz = try await client.executeRequest(uri: "/readyz", method: .get, headers: [:], body: nil)
                return readyz.status == .ok && !readyz.text.contains(node)
            }
            #expect(readyz.text == #"{"status":"ready"}"#, "\(readyz.text)")
            #expect(try await client.metric("redis_cluster_masters_unavailable") == 0)
            for user in deadUsers {
                try await waitUntil(timeout: .seconds(30)) {
                    try await client.pay(payBody(user: user, key: "after")).status == .ok
                }
            }
        }
    }
}

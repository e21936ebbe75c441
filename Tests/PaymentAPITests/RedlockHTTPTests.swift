import HTTPTypes
import HummingbirdTesting
import PaymentAPI
import PaymentRedis
import RedisClient
import RedisTestSupport
import Testing

@Suite("Redlock mode over HTTP: quorum lost and regained", .redisServer())
struct RedlockHTTPTests {
    @Test func twoLockNodesOfThreeDownMeans503UntilTheyReturn() async throws {
        var started: [RedisServer] = []
        defer { started.forEach { $0.stop() } }
        for _ in 0..<3 { started.append(try await RedisServer.start()) }
        let lockServers = started
        let nodes = try lockServers.map { server in
            var node = try RedisClientConfiguration(url: server.url)
            // A second, not 200 ms: with one node down the payment needs both others to
            // answer in time, and a loaded machine running every suite at once took longer.
            // The killed nodes refuse connections at once, so this costs no waiting.
            node.commandTimeout = .seconds(1)
            node.reconnectMaxDelay = .milliseconds(100)
            return node
        }
        let user = uniqueUser("redlock-http")
        try await withApp({ $0.redis.lockNodes = nodes }) { client in
            #expect(try await client.waitForReadiness(.ok).status == .ok)
            #expect(try await client.pay(payBody(user: user, key: "k1")).status == .ok)

            lockServers[0].kill()
            #expect(try await client.pay(payBody(user: user, key: "k2")).status == .ok, "one node of three down")
            #expect(try await client.waitForReadiness(.ok).status == .ok)

            lockServers[1].kill()
            let notReady = try await client.waitForReadiness(.serviceUnavailable)
            #expect(notReady.status == .serviceUnavailable)
            #expect(notReady.text.contains("1 of 3 lock nodes answer, 2 needed"), "\(notReady.text)")
            let refused = try await client.pay(payBody(user: user, key: "k3"))
            expectProblem(refused, .serviceUnavailable, type: "unavailable")
            #expect(refused.headers[.retryAfter] == "1")

            try await lockServers[0].restart()
            try await lockServers[1].restart()
            #expect(try await client.waitForReadiness(.ok).status == .ok)
            #expect(try await client.pay(payBody(user: user, key: "k3")).status == .ok)
            let ledger = try await client.executeRequest(uri: "/ledger/\(user)", method: .get, headers: [:], body: nil)
            #expect(ledger.text.contains(#""payments":3"#), "\(ledger.text)")
        }
    }
}

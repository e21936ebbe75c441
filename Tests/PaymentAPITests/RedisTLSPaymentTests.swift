import HTTPTypes
import HummingbirdTesting
import PaymentAPI
import RedisClient
import RedisTestSupport
import Testing

@Suite("payments over TLS to Redis")
struct RedisTLSPaymentTests {
    @Test func aPaymentIsChargedThroughATLSConnection() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let (server, tlsPort) = try await RedisServer.startTLS(certificates: certificates)
        defer { server.stop() }
        // Configured the way main does it: from the environment.
        let environment = [
            "REDIS_URL": "rediss://127.0.0.1:\(tlsPort)", "REDIS_TLS_CA_FILE": certificates.caFile,
            "REDIS_TLS_CERT_FILE": certificates.clientCertificateFile, "REDIS_TLS_KEY_FILE": certificates.clientKeyFile,
        ]
        let tlsRedis = try AppConfiguration(lookup: { environment[$0] }).redis
        let user = uniqueUser("tls")
        try await withApp(redisURL: environment["REDIS_URL"], { $0.redis = tlsRedis }) { client in
            #expect(try await client.waitForReadiness(.ok).status == .ok)
            #expect(try await client.pay(payBody(user: user)).status == .ok)
            let ledger = try await client.executeRequest(uri: "/ledger/\(user)", method: .get, headers: [:], body: nil)
            #expect(ledger.text.contains(#""payments":1"#), "\(ledger.text)")
        }
        // The payment landed on the TLS server (the plain port is the same server).
        let keys = try await RedisCluster.redisCLI(["-p", "\(server.port)", "--scan", "--pattern", "*{\(user)}*"])
        #expect(keys.contains("ledger"), "\(keys)")
    }
}

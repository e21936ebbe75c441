import Hummingbird
import HummingbirdTesting
import NIOCore
import PaymentAPI
import PaymentCore
import RedisClient
import RedisTestSupport
import Testing

@Suite("health, readiness, metrics, ledger, request ids", .redisServer())
struct OperationsTests {
    @Test func readyOnceRedisAnswersAndScriptsAreLoaded() async throws {
        try await withApp { client in
            let ready = try await client.waitForReadiness(.ok)
            #expect(ready.status == .ok)
            #expect(ready.text == #"{"status":"ready"}"#)
        }
    }

    @Test func processorFailuresCountInTheOriginalCounter() async throws {
        try await withApp({ $0.paymentFailureRate = 1 }) { client in
            _ = try await client.pay(payBody(user: uniqueUser("failcount")))
            _ = try await client.pay(payBody(user: uniqueUser("failcount")))
            let metrics = try await client.executeRequest(uri: "/metrics", method: .get, headers: [:], body: nil).text
            #expect(metrics.contains("payment_requests_failed 2\n"))
            #expect(metrics.contains(#"payment_requests_total{outcome="processor_failed"} 2"# + "\n"))
        }
    }

    @Test func ledgerShowsCountAndTotalsPerCurrency() async throws {
        try await withApp { client in
            let user = uniqueUser("ledger")
            _ = try await client.pay(payBody(user: user, amount: "10.25", key: "1"))
            _ = try await client.pay(payBody(user: user, amount: "4.75", key: "2"))
            _ = try await client.pay(payBody(user: user, amount: "500", currency: "JPY", key: "3"))
            let ledger = try await client.executeRequest(uri: "/ledger/\(user)", method: .get, headers: [:], body: nil)
            #expect(ledger.status == .ok)
            #expect(ledger.text.hasPrefix(#"{"user_id":"\#(user)","payments":3,"totals":{"JPY":500,"USD":1500},"charges_total":3,"#), "\(ledger.text)")
            expectProblem(try await client.executeRequest(uri: "/ledger/bad%20user", method: .get, headers: [:], body: nil),
                          .badRequest, type: "invalid-user-id")
        }
    }

    @Test func requestIDIsKeptOrGenerated() async throws {
        try await withApp { client in
            let kept = try await client.executeRequest(uri: "/healthz", method: .get, headers: [.init("X-Request-ID")!: "abc-123"], body: nil)
            #expect(kept.headers[.init("X-Request-ID")!] == "abc-123")
            let generated = try await client.executeRequest(uri: "/healthz", method: .get, headers: [:], body: nil)
            #expect(generated.headers[.init("X-Request-ID")!]?.count == 32)
            let problem = try await client.pay(ByteBuffer(string: "{"), headers: [.init("X-Request-ID")!: "req-9"])
            #expect(problem.text.contains(#""request_id":"req-9""#))
        }
    }
}

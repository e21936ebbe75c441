import Hummingbird
import HummingbirdTesting
import NIOCore
import PaymentAPI
import PaymentCore
import RedisClient
import RedisTestSupport
import Testing

@Suite("Redis unavailable")
struct RedisUnavailableTests {
    @Test func payIs503AndReadinessIs503ButLivenessIs200() async throws {
        // Port 1 on loopback: nothing listens, connects are refused at once.
        try await withApp(redisURL: "redis://127.0.0.1:1") { client in
            let response = try await client.pay(payBody(user: uniqueUser("down")))
            expectProblem(response, .serviceUnavailable, type: "unavailable", detailContains: "nothing was charged")
            #expect(response.headers[.retryAfter] == "1")
            // Until the monitor's first check /readyz says "not checked yet", also a 503:
            // wait for the reason the check gives.
            var ready: TestResponse?
            try await waitUntil {
                ready = try await client.executeRequest(uri: "/readyz", method: .get, headers: [:], body: nil)
                return ready?.text.contains(#""reason":"redis: "#) == true
            }
            #expect(ready?.status == .serviceUnavailable)
            let live = try await client.executeRequest(uri: "/healthz", method: .get, headers: [:], body: nil)
            #expect(live.status == .ok)
            expectProblem(try await client.executeRequest(uri: "/ledger/someone", method: .get, headers: [:], body: nil),
                          .serviceUnavailable, type: "unavailable")
        }
    }
}

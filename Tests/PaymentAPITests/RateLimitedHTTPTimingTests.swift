import Hummingbird
import HummingbirdTesting
import NIOCore
import PaymentAPI
import PaymentCore
import RedisClient
import RedisTestSupport
import Testing

/// HTTP tests whose outcome depends on a token bucket not refilling between requests:
/// wall-clock behaviour, so `make test` runs this suite alone, after the parallel ones.
@Suite("rate-limited HTTP", .redisServer())
struct RateLimitedHTTPTimingTests {
    @Test func emptyBucketIs429WithRetryAfterAndRateLimitFields() async throws {
        try await withApp({ $0.userRateLimit = .init(name: "user", capacity: 2, refillPerSecond: 1) }) { client in
            let user = uniqueUser("limited")
            #expect(try await client.pay(payBody(user: user, key: "a")).status == .ok)
            #expect(try await client.pay(payBody(user: user, key: "b")).status == .ok)
            let limited = try await client.pay(payBody(user: user, key: "c"))
            expectProblem(limited, .tooManyRequests, type: "rate-limited")
            #expect(limited.headers[.retryAfter] == "1")
            #expect(limited.headers[.init("RateLimit-Policy")!] == #""user";q=2;w=2"#)
            #expect(limited.headers[.init("RateLimit")!]?.hasPrefix(#""user";r=0;t="#) == true)
        }
    }

    @Test func metricsCountAKnownSequence() async throws {
        try await withApp({ $0.userRateLimit = .init(name: "user", capacity: 3, refillPerSecond: 1) }) { client in
            // Scripts loaded first, so no EVALSHA meets NOSCRIPT and the counts are exact.
            #expect(try await client.waitForReadiness(.ok).status == .ok)
            let user = uniqueUser("metrics")
            _ = try await client.pay(payBody(user: user, key: "a"))            // succeeded
            _ = try await client.pay(payBody(user: user, key: "a"))            // replayed
            _ = try await client.pay(payBody(user: user, amount: "5", key: "a"))  // mismatch
            _ = try await client.pay(payBody(user: user, key: "b"))            // rate limited (3 tokens used)
            _ = try await client.pay(ByteBuffer(string: "{"))                  // invalid
            let metrics = try await client.executeRequest(uri: "/metrics", method: .get, headers: [:], body: nil).text
            for line in [
                #"payment_requests_total{outcome="succeeded"} 1"#,
                #"payment_requests_total{outcome="replayed"} 1"#,
                #"payment_requests_total{outcome="fingerprint_mismatch"} 1"#,
                #"payment_requests_total{outcome="rate_limited"} 1"#,
                #"payment_requests_total{outcome="invalid"} 1"#,
                #"payment_requests_total{outcome="processor_failed"} 0"#,
                "payment_requests_failed 0",
                "payment_idempotent_replays_total 1",
                #"rate_limit_rejections_total{scope="user"} 1"#,
                #"payment_build_info{version="0.1.0"} 1.0"#,
            ] {
                #expect(metrics.contains(line + "\n"), "missing \(line)")
            }
            #expect(metrics.contains(#"http_server_request_duration_seconds_count{method="POST",route="/pay",status="200"} 2"#))
            #expect(metrics.contains(#"redis_command_duration_seconds_count{command="EVALSHA"}"#))
            #expect(metrics.contains("http_inflight_requests 0.0\n"))
            // Two round trips for the new payment (begin, complete), one for each other.
            #expect(metrics.contains(#"redis_command_duration_seconds_count{command="EVALSHA"} 5"# + "\n"))
        }
    }
}

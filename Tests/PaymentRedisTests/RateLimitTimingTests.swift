import Logging
import PaymentCore
import PaymentRedis
import RedisClient
import RedisTestSupport
import Testing

/// Token buckets refill with wall-clock time, so `make test` runs this suite alone,
/// after the parallel ones (see TIMING_SUITES in the Makefile).
@Suite("token buckets on a real redis-server", .redisServer())
struct RateLimitTimingTests {
    @Test func eleventhRequestInTheSameInstantIsLimitedAndPassesAfterRefill() async throws {
        try await withSuiteRedis { redis async throws in
            // One token a second: ten requests fit in that second even on a loaded machine.
            let policy = RateLimitPolicy(name: "user", capacity: 10, refillPerSecond: 1)
            let service = makeService(redis, userRateLimit: policy)
            let user = uniqueUser("bucket")

            var remaining: [Int] = []
            for index in 0..<10 {
                guard case .succeeded(_, let status?) = await service.pay(try request(user: user, key: "k\(index)")) else {
                    Issue.record("request \(index) should pass")
                    return
                }
                remaining.append(status.remaining)
            }
            #expect(remaining.first == 9)
            #expect(remaining.last ?? -1 <= 1, "the bucket drained: \(remaining)")

            let limited = await service.pay(try request(user: user, key: "k10"))
            guard case .rateLimited(let status, let retryAfter) = limited else {
                Issue.record("expected 429, got \(limited.label)")
                return
            }
            #expect(status.remaining == 0)
            #expect(retryAfter > 0 && retryAfter <= 1_000, "one token refills within a second: \(retryAfter)")
            #expect(status.resetMilliseconds > 9_000 && status.resetMilliseconds <= 10_000)
            #expect(try await RedisIdempotencyStore(client: redis).ledger(for: try UserID(user), tenant: nil).payments == 10, "the limited request did nothing")

            try await Task.sleep(for: .milliseconds(retryAfter + 20))
            #expect(await service.pay(try request(user: user, key: "k10")).label == "succeeded")
        }
    }

    @Test func bucketKeyExpiresOnceItWouldBeFull() async throws {
        try await withSuiteRedis { redis async throws in
            let policy = RateLimitPolicy(name: "user", capacity: 5, refillPerSecond: 1)
            let service = makeService(redis, userRateLimit: policy)
            let payment = try request(user: uniqueUser("expiry"))
            _ = await service.pay(payment)
            let ttl = try await redis.send("PTTL", .string(PaymentKeys().bucket(payment.userID))).int ?? -2
            #expect(ttl > 0 && ttl <= 1_000, "one token at 1/s refills within a second: \(ttl)")
        }
    }

    @Test func globalBucketIsSharedByAllUsers() async throws {
        try await withSuiteRedis { redis async throws in
            // A capacity of 3 with the slowest refill keeps the test about the capacity.
            let global = RateLimitPolicy(name: "global", capacity: 3, refillPerSecond: 1)
            let keys = PaymentKeys(prefix: "global-test-\(UInt32.random(in: 0...UInt32.max)):")
            let limiter = RedisRateLimiter(client: redis, policy: global, keys: keys)
            var allowed = 0
            var limited = 0
            for _ in 0..<5 {
                switch try await limiter.acquire() {
                case .allowed: allowed += 1
                case .limited(_, let retryAfter):
                    limited += 1
                    #expect(retryAfter > 0 && retryAfter <= 1_000)
                }
            }
            #expect(allowed == 3)
            #expect(limited == 2)
        }
    }
}

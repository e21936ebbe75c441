import PaymentCore
import PaymentRedis
import RedisClient
import RedisTestSupport
import Testing

/// The fence is per idempotency key, grows across lease takeovers, does not repeat when
/// its counter is lost (as in a failover), and expires with the key's retention.
@Suite("fencing tokens", .redisServer())
struct FenceTests {
    let retention = Duration.seconds(600)

    func acquire(_ store: RedisIdempotencyStore, _ payment: PaymentRequest, lease: Duration) async throws -> Int64 {
        let begun = try await store.begin(payment, owner: "owner-\(UInt64.random(in: 0...UInt64.max))", lease: lease, retention: retention, rateLimit: nil)
        guard case .acquired(let held, _) = begun else {
            Issue.record("expected the key to be free, got \(begun)")
            return -1
        }
        return held.fence
    }

    func redisMilliseconds(_ redis: RedisClient) async throws -> Int64 {
        let time = try #require(try await redis.send("TIME").array)
        return Int64(try #require(time[0].int)) * 1000 + Int64(try #require(time[1].int)) / 1000
    }

    @Test func fencesGrowPerKeyAcrossTakeoversAndExpire() async throws {
        try await withSuiteRedis { redis async throws in
            let store = RedisIdempotencyStore(client: redis)
            let payment = try request(user: uniqueUser("fence"))
            let record = PaymentKeys().idempotency(payment)
            let fenceKey = PaymentKeys().fence(payment)

            let first = try await acquire(store, payment, lease: .milliseconds(100))
            let ttl = try #require(try await redis.send("TTL", .string(fenceKey)).int)
            #expect(ttl > 0 && ttl <= 600, "the fence key lives for the retention, not forever: TTL \(ttl)")

            // The lease runs out: the next attempt takes the key over with a higher fence.
            try await waitUntil { try await redis.send("EXISTS", .string(record)) == .integer(0) }
            let second = try await acquire(store, payment, lease: .milliseconds(100))
            #expect(second > first)

            // A failover that lost the counter (and the record): the fence still grows,
            // because it starts from Redis's clock.
            _ = try await redis.send("DEL", .string(fenceKey), .string(record))
            try await waitUntil { try await redisMilliseconds(redis) > second }
            let third = try await acquire(store, payment, lease: .milliseconds(100))
            #expect(third > second, "fence \(third) after the lost counter, \(second) before")

            // Another key of the same user has a fence of its own, and no per-user
            // counter is left behind.
            let other = try request(user: payment.userID.value, key: "key-2")
            _ = try await acquire(store, other, lease: .milliseconds(100))
            #expect(try await redis.send("EXISTS", .string(PaymentKeys().fence(other))) == .integer(1))
            let userWide = "pay:{\(payment.userID.value)}:fence"
            #expect(try await redis.send("EXISTS", .string(userWide)) == .integer(0))
        }
    }

    @Test func aUserNamedGlobalLeavesTheSharedBucketAlone() async throws {
        try await withSuiteRedis { redis async throws in
            let keys = PaymentKeys()
            #expect(keys.bucket(try UserID("global")) != keys.globalBucket)
            _ = try await redis.send("DEL", .string(keys.globalBucket))
            let limited = makeService(redis, userRateLimit: RateLimitPolicy(name: "user", capacity: 5, refillPerSecond: 1))
            #expect(await limited.pay(try request(user: "global", key: "g-\(UInt32.random(in: 0...UInt32.max))")).label == "succeeded")
            #expect(try await redis.send("EXISTS", .string(keys.globalBucket)) == .integer(0),
                    "the user's bucket must not be the bucket all replicas share")
        }
    }
}

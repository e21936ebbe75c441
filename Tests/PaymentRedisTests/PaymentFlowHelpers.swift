import PaymentCore
import PaymentProcessors
import PaymentRedis
import RedisClient
import RedisTestSupport
import Testing

func makeService(
    _ redis: RedisClient,
    failureRate: Double = 0,
    latency: Duration = .zero,
    lease: Duration = .seconds(10),
    userRateLimit: RateLimitPolicy? = nil,
    globalRateLimit: RateLimitPolicy? = nil,
    keyLock: (any KeyLock)? = nil,
    watchdog: Bool = true
) -> PaymentService {
    PaymentService(
        store: RedisIdempotencyStore(client: redis),
        processor: SimulatedProcessor(failureRate: failureRate, latency: latency),
        globalRateLimiter: globalRateLimit.map { RedisRateLimiter(client: redis, policy: $0) },
        keyLock: keyLock,
        settings: .init(lease: lease, retention: .seconds(3600), userRateLimit: userRateLimit, watchdog: watchdog)
    )
}

/// A request for a fresh user, so tests sharing a server never see each other's keys.
func request(user: String, key: String = "key-1", amount: String = "10.00", currency: String = "USD") throws -> PaymentRequest {
    let body = #"{"user_id":"\#(user)","amount":\#(amount),"currency":"\#(currency)","idempotency_key":"\#(key)"}"#
    return try PaymentRequest.parse(body: Array(body.utf8), idempotencyKeyHeader: nil)
}

func uniqueUser(_ name: String) -> String {
    "\(name)-\(UInt32.random(in: 0...UInt32.max))"
}

import NIOCore
import PaymentCore
import RedisClient

/// The bucket shared by every user and every replica (`GLOBAL_RATE_LIMIT_*`).
public struct RedisRateLimiter: RateLimiter {
    public let client: RedisClient
    public let policy: RateLimitPolicy
    public let key: String

    public init(client: RedisClient, policy: RateLimitPolicy, keys: PaymentKeys = PaymentKeys()) {
        self.client = client
        self.policy = policy
        self.key = keys.globalBucket
    }

    public func acquire() async throws -> RateLimitDecision {
        try await acquire(on: client.eventLoopGroup.any()).get()
    }

    public func acquire(on eventLoop: any EventLoop) -> EventLoopFuture<RateLimitDecision> {
        client.evaluate(
            PaymentScripts.tokenBucket,
            keys: [.string(key)],
            arguments: [.integer(policy.capacity), .integer(policy.refillPerSecond)],
            on: eventLoop
        ) { [policy] reply in
            guard let fields = reply.array?.compactMap(\.int), fields.count == 4 else {
                throw RedisIdempotencyStore.unexpected("token bucket", reply)
            }
            let status = RateLimitStatus(policy: policy, remaining: fields[1], resetMilliseconds: fields[3])
            return fields[0] == 1 ? .allowed(status) : .limited(status, retryAfterMilliseconds: fields[2])
        }
    }
}

import Logging
import PaymentCore
import PaymentRedis
import RedisClient
import RedisTestSupport
import Testing

/// The watchdog must extend a lease on time, so this suite asserts wall-clock behaviour
/// and runs alone (`make test` runs it after the parallel suites): starved of CPU by
/// other tests, a watchdog would rightly lose its lease and the test would say nothing
/// about the code.
@Suite("lease watchdog", .redisServer())
struct WatchdogTests {
    @Test func watchdogKeepsTheLeaseWhileSlowWorkRuns() async throws {
        try await withRedis { redis async throws in
            let payment = try request(user: uniqueUser("watchdog"))
            let key = PaymentKeys().idempotency(payment)
            let slow = makeService(redis, latency: .seconds(3), lease: .seconds(1))
            async let outcome = slow.pay(payment)
            try await waitUntil { try await redis.send("EXISTS", .string(key)) == .integer(1) }
            try await Task.sleep(for: .milliseconds(2_200))
            // More than two leases later the key is still held: the watchdog extended it.
            #expect(try await redis.send("HGET", .string(key), "state").string == "inflight")
            #expect(await outcome.label == "succeeded")
            #expect(try await RedisIdempotencyStore(client: redis).ledger(for: payment.userID, tenant: nil).payments == 1)
        }
    }
}

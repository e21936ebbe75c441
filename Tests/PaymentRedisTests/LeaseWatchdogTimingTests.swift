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
struct LeaseWatchdogTimingTests {
    @Test func watchdogKeepsTheLeaseWhileSlowWorkRuns() async throws {
        try await withSuiteRedis { redis async throws in
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

    @Test func watchdogExtendsTheQuorumLockOnAMajority() async throws {
        try await withSuiteRedis { redis async throws in
            try await withLockNodes { _, redlock async throws in
                let payment = try request(user: uniqueUser("redlock-watchdog"))
                let slow = makeService(redis, latency: .milliseconds(1_500), lease: .milliseconds(600), keyLock: redlock)
                // Two and a half leases of work: it commits only if the lock was extended.
                #expect(await slow.pay(payment).label == "succeeded")
                #expect(try await RedisIdempotencyStore(client: redis).ledger(for: payment.userID, tenant: nil).payments == 1)
            }
        }
    }

    @Test func workThatLosesTheLockMajorityIsGivenUp() async throws {
        try await withSuiteRedis { redis async throws in
            try await withLockNodes { servers, redlock async throws in
                let payment = try request(user: uniqueUser("redlock-lost"))
                let slow = makeService(redis, latency: .milliseconds(1_500), lease: .milliseconds(600), keyLock: redlock)
                async let outcome = slow.pay(payment)
                try await waitUntil { try await redis.send("EXISTS", .string(PaymentKeys().idempotency(payment))) == .integer(1) }
                servers[0].kill()
                servers[1].kill()
                // The watchdog finds no majority to extend on; the work ends after its
                // validity, so it is not committed and its record is released.
                #expect(await outcome.label == "lease_lost")
                #expect(try await RedisIdempotencyStore(client: redis).ledger(for: payment.userID, tenant: nil).payments == 0)
                #expect(try await redis.send("EXISTS", .string(PaymentKeys().idempotency(payment))) == .integer(0))
            }
        }
    }
}

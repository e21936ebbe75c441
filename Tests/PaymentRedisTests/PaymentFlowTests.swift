import Logging
import PaymentCore
import PaymentRedis
import RedisClient
import RedisTestSupport
import Testing

@Suite("payment flow on a real redis-server", .redisServer())
struct PaymentFlowTests {
    @Test func hundredConcurrentDuplicatesExecuteExactlyOnce() async throws {
        try await withSuiteRedis { redis async throws in
            let service = makeService(redis, latency: .milliseconds(20))
            let payment = try request(user: uniqueUser("dup"))

            let outcomes = await withTaskGroup(of: PaymentOutcome.self) { group in
                for _ in 0..<100 { group.addTask { await service.pay(payment) } }
                return await group.reduce(into: [PaymentOutcome]()) { $0.append($1) }
            }
            let succeeded = outcomes.filter { if case .succeeded = $0 { true } else { false } }
            let others = outcomes.filter {
                switch $0 {
                case .replayed, .inFlight: true
                default: false
                }
            }
            #expect(succeeded.count == 1)
            #expect(others.count == 99, "\(outcomes.map(\.label))")
            let ledger = try await RedisIdempotencyStore(client: redis).ledger(for: payment.userID, tenant: nil)
            #expect(ledger.payments == 1)
            #expect(ledger.totals == ["USD": 1_000])
        }
    }

    @Test func fiftyDistinctKeysAreFiftyCharges() async throws {
        try await withSuiteRedis { redis async throws in
            let service = makeService(redis)
            let user = uniqueUser("many")
            let outcomes = try await withThrowingTaskGroup(of: PaymentOutcome.self) { group in
                for index in 0..<50 {
                    let payment = try request(user: user, key: "k-\(index)", amount: "\(index + 1).25")
                    group.addTask { await service.pay(payment) }
                }
                return try await group.reduce(into: [String]()) { $0.append($1.label) }
            }
            #expect(outcomes == Array(repeating: "succeeded", count: 50))
            let ledger = try await RedisIdempotencyStore(client: redis).ledger(for: try UserID(user), tenant: nil)
            #expect(ledger.payments == 50)
            // Σ (i + 1.25) for i in 0..<50 = 1275 + 12.5 = 1287.50
            #expect(ledger.totals == ["USD": 128_750])
        }
    }

    @Test func replayReturnsTheStoredBytesAndAnotherPayloadIsAMismatch() async throws {
        try await withSuiteRedis { redis async throws in
            let service = makeService(redis)
            let user = uniqueUser("replay")
            let first = await service.pay(try request(user: user))
            let second = await service.pay(try request(user: user))
            guard case .succeeded(let original, _) = first, case .replayed(let replayed, _) = second else {
                Issue.record("expected success then replay, got \(first.label), \(second.label)")
                return
            }
            #expect(original == replayed)
            #expect(await service.pay(try request(user: user, amount: "10.01")) == .fingerprintMismatch)
            #expect(await service.pay(try request(user: user, currency: "EUR")) == .fingerprintMismatch)
            let ledger = try await RedisIdempotencyStore(client: redis).ledger(for: try UserID(user), tenant: nil)
            #expect(ledger.payments == 1)
        }
    }

    @Test func inFlightKeyWithAnotherPayloadIsAMismatchAndWithTheSameIsAConflict() async throws {
        try await withSuiteRedis { redis async throws in
            // The conflict is asked while the first still works: 10 s of work, not 2, which a
            // CI run beside every other suite and the fuzz build once outlasted.
            let slow = makeService(redis, latency: .seconds(10))
            let fast = makeService(redis)
            let user = uniqueUser("inflight")
            let payment = try request(user: user)
            async let running = slow.pay(payment)
            try await waitUntil { try await redis.send("EXISTS", .string(PaymentKeys().idempotency(payment))) == .integer(1) }
            let conflict = await fast.pay(try request(user: user))
            guard case .inFlight(let retryAfter) = conflict else {
                Issue.record("expected in flight, got \(conflict.label)")
                return
            }
            #expect(retryAfter > 0 && retryAfter <= 10_000)
            #expect(await fast.pay(try request(user: user, amount: "99")) == .fingerprintMismatch)
            #expect(try await running.label == "succeeded")
        }
    }

    @Test func transientFailureStoresNothingAndTheRetrySucceedsOnce() async throws {
        try await withSuiteRedis { redis async throws in
            let user = uniqueUser("fail")
            let payment = try request(user: user)
            let failing = makeService(redis, failureRate: 1.0)
            #expect(await failing.pay(payment).label == "processor_failed")
            let keys = PaymentKeys()
            #expect(try await redis.send("EXISTS", .string(keys.idempotency(payment))) == .integer(0), "the key was released")
            #expect(try await RedisIdempotencyStore(client: redis).ledger(for: payment.userID, tenant: nil).payments == 0)

            let healthy = makeService(redis)
            #expect(await healthy.pay(payment).label == "succeeded")
            #expect(await healthy.pay(payment).label == "replayed")
            #expect(try await RedisIdempotencyStore(client: redis).ledger(for: payment.userID, tenant: nil).payments == 1)
        }
    }

    @Test func workThatOutlivesItsLeaseCannotCommit() async throws {
        try await withSuiteRedis { redis async throws in
            let user = uniqueUser("lease")
            let payment = try request(user: user)
            // No watchdog: the 200 ms lease runs out while the 1 s work is still going.
            let stale = makeService(redis, latency: .seconds(1), lease: .milliseconds(200), watchdog: false)
            let fresh = makeService(redis, latency: .milliseconds(50), lease: .seconds(10))

            async let staleOutcome = stale.pay(payment)
            // The fence counter outlives the short lease: it shows the stale holder began.
            try await waitUntil { try await redis.send("GET", .string(PaymentKeys().fence(payment))).int != nil }
            // Retry as a client would until the key is free again (the lease is 200 ms;
            // the bound is only there to end a broken run).
            var freshOutcome = await fresh.pay(payment)
            let deadline = ContinuousClock.now + .seconds(30)
            while freshOutcome.label == "in_flight", ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                freshOutcome = await fresh.pay(payment)
            }
            #expect(freshOutcome.label == "succeeded", "the new holder took the expired key and committed")
            #expect(await staleOutcome == .leaseLost, "the old holder's complete was refused")

            let ledger = try await RedisIdempotencyStore(client: redis).ledger(for: payment.userID, tenant: nil)
            #expect(ledger.payments == 1)
            #expect(await fresh.pay(payment).label == "replayed")
        }
    }

    @Test func redisDownFailsClosed() async throws {
        // A port nobody listens on: connect is refused.
        var configuration = try RedisClientConfiguration(url: "redis://127.0.0.1:1")
        configuration.commandTimeout = .milliseconds(200)
        let redis = try RedisClient(configuration: configuration, logger: .init(label: "down"))
        let outcome = await makeService(redis).pay(try request(user: uniqueUser("down")))
        await redis.shutdown()
        #expect(outcome.label == "unavailable")
    }
}

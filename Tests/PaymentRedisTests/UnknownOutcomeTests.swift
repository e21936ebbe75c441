import PaymentCore
import PaymentRedis
import RedisClient
import RedisTestSupport
import Testing

/// An outcome we cannot know is a state the record keeps, not a deletion: the retry with
/// the same payload asks again with the same processor key, another payload gets 422, and
/// no later answer claims that nothing was charged.
@Suite("unknown outcomes are kept, never forgotten", .redisServer())
struct UnknownOutcomeTests {
    /// Keys of their own per test: the reconciler's queue is one key per prefix.
    static func store(_ redis: RedisClient) -> RedisIdempotencyStore {
        RedisIdempotencyStore(client: redis, keys: PaymentKeys(prefix: "t\(UInt32.random(in: 0...UInt32.max)):"))
    }

    static func service(_ store: RedisIdempotencyStore, _ processor: ScriptedProcessor, maximumWork: Duration? = nil) -> PaymentService {
        PaymentService(
            store: store, processor: processor, globalRateLimiter: nil,
            settings: .init(lease: .seconds(10), retention: .seconds(3600), userRateLimit: nil, maximumWork: maximumWork, reconcileDelay: .seconds(1))
        )
    }

    @Test func anUnknownOutcomeKeepsTheRecordSoAnotherAmountIs422() async throws {
        try await withSuiteRedis { redis async throws in
            let store = Self.store(redis)
            let processor = ScriptedProcessor(charges: [.unknown("dropped after charging"), .charged(chargeID: "ch_9")])
            let service = Self.service(store, processor)
            let user = uniqueUser("unknown-422")
            let first = try request(user: user, amount: "10.00")
            guard case .outcomeUnknown(let unknown) = await service.pay(first), case .processor(_, let recorded) = unknown.cause else {
                Issue.record("a dropped connection is an unknown outcome")
                return
            }
            #expect(recorded)
            // The bug this fixes: the record was deleted, so this went to the processor
            // and came back as "nothing was charged".
            #expect(await service.pay(try request(user: user, amount: "99.00")) == .fingerprintMismatch)
            #expect(processor.charged.count == 1, "the other amount never reached the processor")

            let ledger = try await store.ledger(for: first.userID, tenant: nil)
            #expect(ledger.unknown.map(\.paymentID) == [unknown.paymentID], "/ledger lists the unknown payment")
            #expect(try await store.counts().pending == 1, "the reconciler is scheduled")

            // The same payload re-drives at once with the same processor key.
            guard case .succeeded(let receipt, _) = await service.pay(first) else {
                Issue.record("the retry with the same payload charges (or finds the charge)")
                return
            }
            #expect(String(decoding: receipt.body, as: UTF8.self).contains(#""charge_id":"ch_9""#))
            #expect(processor.charged.map(\.identity.processorKey) == Array(repeating: processor.charged[0].identity.processorKey, count: 2))
            let after = try await store.ledger(for: first.userID, tenant: nil)
            #expect(after.payments == 1)
            #expect(after.charges.first?.chargeID == "ch_9")
            #expect(after.unknown.isEmpty)
        }
    }

    @Test func aRefusalAfterAnUnknownAttemptIsStillUnknownNeverNothingCharged() async throws {
        try await withSuiteRedis { redis async throws in
            let store = Self.store(redis)
            let processor = ScriptedProcessor(charges: [
                .unknown("the processor answered 500"), .failed("the processor refused the request with 401 unauthorized"),
                .busy(retryAfterMilliseconds: 1_000), .charged(chargeID: "ch_2"),
            ])
            let service = Self.service(store, processor)
            let payment = try request(user: uniqueUser("unknown-4xx"))
            #expect(await service.pay(payment).label == "outcome_unknown")
            // A 401 during a token rotation: this attempt charged nothing, the first may have.
            guard case .outcomeUnknown(let unknown) = await service.pay(payment), case .processor(let reason, true) = unknown.cause else {
                Issue.record("a 4xx after an unknown attempt must stay unknown, not processor_failed")
                return
            }
            #expect(reason.contains("earlier attempt"))
            #expect(await service.pay(payment).label == "in_flight", "a 409 from the processor is the client's 409")
            #expect(await service.pay(try request(user: payment.userID.value, amount: "11.00")) == .fingerprintMismatch, "still unknown after the 409")
            #expect(await service.pay(payment).label == "succeeded")
            #expect(try await store.ledger(for: payment.userID, tenant: nil).payments == 1)
        }
    }

    @Test func aProcessorStillWorkingOnTheKeyLeavesThePaymentUnknownNotForgotten() async throws {
        try await withSuiteRedis { redis async throws in
            let store = Self.store(redis)
            // A 409 on a first attempt: an attempt whose lease ran out is still at the processor.
            let processor = ScriptedProcessor(charges: [.busy(retryAfterMilliseconds: 2_000), .charged(chargeID: "ch_5")])
            let service = Self.service(store, processor)
            let payment = try request(user: uniqueUser("busy-first"))
            #expect(await service.pay(payment) == .inFlight(retryAfterMilliseconds: 2_000))
            #expect(try await store.counts().pending == 1, "the reconciler finds out if no client comes back")
            #expect(await service.pay(try request(user: payment.userID.value, amount: "13.00")) == .fingerprintMismatch)
            #expect(await service.pay(payment).label == "succeeded", "the retry, after it, gets the charge")
        }
    }

    @Test func aFreshRefusalIsStillProcessorFailedAndReleasesTheKey() async throws {
        try await withSuiteRedis { redis async throws in
            let store = Self.store(redis)
            let processor = ScriptedProcessor(charges: [.failed("the processor refused the request with 400"), .charged(chargeID: "ch_3")])
            let service = Self.service(store, processor)
            let payment = try request(user: uniqueUser("fresh-4xx"))
            #expect(await service.pay(payment).label == "processor_failed")
            #expect(await service.pay(try request(user: payment.userID.value, amount: "12.00")).label == "succeeded",
                    "nothing was in doubt: the key is free for any payload")
        }
    }

    @Test func workPastTheLimitIsGivenUpAsUnknownAndTheKeyIsNotHeld() async throws {
        try await withSuiteRedis { redis async throws in
            let store = Self.store(redis)
            // A processor that stalls for a minute; the work limit is 300 ms.
            let stalling = ScriptedProcessor(charges: [.charged(chargeID: "ch_late")], latency: .seconds(60))
            let payment = try request(user: uniqueUser("stall"))
            let start = ContinuousClock.now
            #expect(await Self.service(store, stalling, maximumWork: .milliseconds(300)).pay(payment).label == "outcome_unknown")
            #expect(ContinuousClock.now - start < .seconds(30), "given up at the limit, not after the stall")
            // Not a 409 for the stall's duration: the retry re-drives at once.
            let answering = ScriptedProcessor(charges: [.charged(chargeID: "ch_4")])
            #expect(await Self.service(store, answering).pay(payment).label == "succeeded")
        }
    }

    @Test func aLostCompleteReplyThatDidNotCommitLeavesTheRecordUnknown() async throws {
        try await withSuiteRedis { redis async throws in
            let store = Self.store(redis)
            let payment = try request(user: uniqueUser("complete-lost"))
            guard case .acquired(let lease, _) = try await store.begin(payment, owner: "o1", lease: .seconds(10), retention: .seconds(60), rateLimit: nil) else {
                Issue.record("begin takes a free key")
                return
            }
            let identity = PaymentIdentity(for: payment, secret: .unset)
            #expect(try await store.markUnknown(payment, lease: lease, identity: identity, retention: .seconds(60), followUp: .recheck(after: .zero, attempts: nil)))
            #expect(try await store.markUnknown(payment, lease: lease, identity: identity, retention: .seconds(60), followUp: .recheck(after: .zero, attempts: nil)) == false,
                    "its lease is released: the same attempt cannot mark it again")
            let ttl = try await redis.send("TTL", .string(store.keys.idempotency(payment))).int ?? 0
            #expect(ttl > 50, "kept for the retention, not the lease")
            guard case .redrive(_, _, let earlier) = try await store.begin(payment, owner: "o2", lease: .seconds(10), retention: .seconds(60), rateLimit: nil) else {
                Issue.record("a retry re-drives an unknown record")
                return
            }
            #expect(earlier == identity)
        }
    }
}

/// A quorum lock whose validity is shorter than the processor's work and whose extension
/// finds no majority: the clock says the lock lapsed, the store's fence says the attempt
/// still holds the key.
struct LapsingQuorumLock: KeyLock {
    func acquire(_ request: PaymentRequest, owner: String, ttl: Duration) async -> KeyLockAcquisition {
        .acquired(validity: .milliseconds(50))
    }

    func extend(_ request: PaymentRequest, owner: String, ttl: Duration) async -> Duration? { nil }

    func release(_ request: PaymentRequest, owner: String) async {}
}

extension UnknownOutcomeTests {
    @Test func aChargeConfirmedAfterTheQuorumLocksValidityRanOutIsStillRecorded() async throws {
        try await withSuiteRedis { redis async throws in
            let store = Self.store(redis)
            // The work outlives the quorum lock's 50 ms validity, not the store's lease.
            let processor = ScriptedProcessor(charges: [.charged(chargeID: "ch_q")], latency: .milliseconds(300))
            let service = PaymentService(
                store: store, processor: processor, globalRateLimiter: nil, keyLock: LapsingQuorumLock(),
                settings: .init(lease: .seconds(10), retention: .seconds(3600), userRateLimit: nil)
            )
            let payment = try request(user: uniqueUser("quorum-lapsed"))
            // The fence decides, not the clock: the processor's charge is recorded, not thrown away.
            #expect(await service.pay(payment).label == "succeeded")
            #expect(try await store.ledger(for: payment.userID, tenant: nil).charges.first?.chargeID == "ch_q")
        }
    }
}

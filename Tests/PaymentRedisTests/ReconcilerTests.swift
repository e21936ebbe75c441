import PaymentCore
import PaymentRedis
import RedisClient
import RedisTestSupport
import Testing

/// The reconciler resolves unknown outcomes by itself, under the record's lease and
/// fence, and never creates a charge.
@Suite("the reconciler", .redisServer())
struct ReconcilerTests {
    static func reconciler(
        _ store: RedisIdempotencyStore, _ processor: ScriptedProcessor, maximumAttempts: Int = 3, interval: Duration = .milliseconds(1)
    ) -> Reconciler {
        Reconciler(
            queue: store, store: store, processor: processor,
            settings: .init(delay: .zero, interval: interval, maximumAttempts: maximumAttempts, lease: .seconds(10), retention: .seconds(3600))
        )
    }

    /// A payment left unknown by a client that never retries, due at once.
    static func abandoned(_ store: RedisIdempotencyStore, user: String, amount: String = "10.00") async throws -> (PaymentRequest, String) {
        let payment = try request(user: user, amount: amount)
        let service = PaymentService(
            store: store, processor: ScriptedProcessor(charges: [.unknown("dropped")]), globalRateLimiter: nil,
            settings: .init(lease: .seconds(10), retention: .seconds(3600), userRateLimit: nil, reconcileDelay: .zero)
        )
        guard case .outcomeUnknown(let unknown) = await service.pay(payment) else {
            Issue.record("the charge's answer was lost")
            return (payment, "")
        }
        return (payment, unknown.paymentID)
    }

    @Test func aChargeTheProcessorHoldsIsRecordedAndReplayedToTheNextRetry() async throws {
        try await withSuiteRedis { redis async throws in
            let store = UnknownOutcomeTests.store(redis)
            let (payment, paymentID) = try await Self.abandoned(store, user: uniqueUser("rec-charged"))
            let processor = ScriptedProcessor(lookups: [.charged(chargeID: "ch_found", amountMinor: payment.amountMinor, currency: "USD")])
            #expect(try await Self.reconciler(store, processor).pass() == [.charged])
            #expect(processor.charged.isEmpty, "the reconciler never charges")
            let ledger = try await store.ledger(for: payment.userID, tenant: nil)
            #expect(ledger.payments == 1)
            #expect(ledger.charges.first?.paymentID == paymentID)
            #expect(ledger.charges.first?.chargeID == "ch_found")
            #expect(ledger.unknown.isEmpty)
            #expect(try await store.counts() == UnknownCounts(pending: 0, unresolved: 0))
            // The client comes back: it gets the receipt, and nothing is charged again.
            let later = ScriptedProcessor()
            guard case .replayed(let stored, _) = await UnknownOutcomeTests.service(store, later).pay(payment) else {
                Issue.record("the retry replays what the reconciler recorded")
                return
            }
            #expect(stored.status == 200)
            #expect(String(decoding: stored.body, as: UTF8.self).contains(#""charge_id":"ch_found""#))
            #expect(later.charged.isEmpty)
        }
    }

    @Test func nothingChargedReleasesTheRecordSoTheNextRetryCharges() async throws {
        try await withSuiteRedis { redis async throws in
            let store = UnknownOutcomeTests.store(redis)
            let (payment, _) = try await Self.abandoned(store, user: uniqueUser("rec-none"))
            #expect(try await Self.reconciler(store, ScriptedProcessor(lookups: [.notCharged])).pass() == [.notCharged])
            #expect(try await store.ledger(for: payment.userID, tenant: nil).unknown.isEmpty)
            #expect(try await redis.send("EXISTS", .string(store.keys.idempotency(payment))) == .integer(0))
            #expect(await UnknownOutcomeTests.service(store, ScriptedProcessor()).pay(payment).label == "succeeded")
        }
    }

    @Test func undecidedLookupsBackOffThenCountAsUnresolved() async throws {
        try await withSuiteRedis { redis async throws in
            let store = UnknownOutcomeTests.store(redis)
            let (payment, _) = try await Self.abandoned(store, user: uniqueUser("rec-unresolved"))
            let processor = ScriptedProcessor(lookups: [.unknown("lookup timed out")])
            // The first back-off is the interval: far longer than the two passes take, so
            // the pass at once finds nothing, however busy the machine.
            let reconciler = Self.reconciler(store, processor, maximumAttempts: 2, interval: .seconds(5))
            #expect(try await reconciler.pass() == [.unknown])
            #expect(try await reconciler.pass() == [], "backed off: not due at once")
            try await waitUntil(timeout: .seconds(30)) { try await store.due(limit: 10).count == 1 }
            #expect(try await reconciler.pass() == [.unresolved])
            #expect(try await store.counts() == UnknownCounts(pending: 0, unresolved: 1))
            // Still unknown to a client, and still on the user's ledger.
            #expect(await UnknownOutcomeTests.service(store, ScriptedProcessor()).pay(try request(user: payment.userID.value, amount: "1.00")) == .fingerprintMismatch)
            #expect(try await store.ledger(for: payment.userID, tenant: nil).unknown.count == 1)
            #expect(processor.lookedUp.count == 2)
            // The client comes back and the processor answers: off the unresolved count.
            #expect(await UnknownOutcomeTests.service(store, ScriptedProcessor()).pay(payment).label == "succeeded")
            #expect(try await reconciler.pass() == [.settled])
            #expect(try await store.counts() == UnknownCounts(pending: 0, unresolved: 0))
        }
    }

    @Test func aChargeForAnotherAmountIsNotRecorded() async throws {
        try await withSuiteRedis { redis async throws in
            let store = UnknownOutcomeTests.store(redis)
            let (payment, _) = try await Self.abandoned(store, user: uniqueUser("rec-amount"))
            let processor = ScriptedProcessor(lookups: [.charged(chargeID: "ch_x", amountMinor: payment.amountMinor + 1, currency: "USD")])
            #expect(try await Self.reconciler(store, processor).pass() == [.unknown])
            #expect(try await store.ledger(for: payment.userID, tenant: nil).payments == 0)
        }
    }

    @Test func twoReplicasNeverWorkOnOneRecord() async throws {
        try await withSuiteRedis { redis async throws in
            let store = UnknownOutcomeTests.store(redis)
            let (payment, _) = try await Self.abandoned(store, user: uniqueUser("rec-claim"))
            let reference = UnknownPaymentReference(payment)
            guard case .claimed(let held) = try await store.claim(reference, owner: "replica-a", lease: .seconds(10), retention: .seconds(60)) else {
                Issue.record("the first claim takes it")
                return
            }
            #expect(try await store.claim(reference, owner: "replica-b", lease: .seconds(10), retention: .seconds(60)) == .busy)
            #expect(await UnknownOutcomeTests.service(store, ScriptedProcessor()).pay(payment).label == "in_flight", "a client's retry waits too")
            #expect(held.request == payment)
            // A client's retry that completed it leaves nothing for the queue.
            #expect(try await store.release(held))
            #expect(try await store.claim(reference, owner: "replica-b", lease: .seconds(10), retention: .seconds(60)) == .settled)
        }
    }

    @Test func aClaimWhoseHolderDiedIsTakenAgainAfterItsLease() async throws {
        try await withSuiteRedis { redis async throws in
            let store = UnknownOutcomeTests.store(redis)
            let (payment, _) = try await Self.abandoned(store, user: uniqueUser("rec-dead"))
            let reference = UnknownPaymentReference(payment)
            guard case .claimed = try await store.claim(reference, owner: "dead", lease: .milliseconds(200), retention: .seconds(60)) else {
                Issue.record("the first claim takes it")
                return
            }
            try await waitUntil(timeout: .seconds(10)) {
                if case .claimed = try await store.claim(reference, owner: "alive", lease: .seconds(10), retention: .seconds(60)) { return true }
                return false
            }
            #expect(try await redis.send("EXISTS", .string(store.keys.idempotency(payment))) == .integer(1), "the record outlived its holder")
        }
    }
}

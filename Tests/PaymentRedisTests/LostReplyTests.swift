import PaymentCore
import PaymentProcessors
import PaymentRedis
import RedisClient
import RedisTestSupport
import Testing

/// A store whose chosen step runs on the real Redis and then throws, as when the reply is
/// lost on the way back: the write happened, the caller cannot know it.
struct LosingStore: IdempotencyStore {
    enum Step: Sendable { case begin, index, complete, abort }
    let base: RedisIdempotencyStore
    let loses: Step

    struct LostReply: Error {}

    func begin(_ request: PaymentRequest, owner: String, lease: Duration, retention: Duration, rateLimit: RateLimitPolicy?) async throws -> BeginResult {
        let result = try await base.begin(request, owner: owner, lease: lease, retention: retention, rateLimit: rateLimit)
        if loses == .begin { throw LostReply() }
        return result
    }

    func complete(
        _ request: PaymentRequest, lease: Lease, response: StoredResponse, charge: LedgerCharge?, identity: PaymentIdentity, retention: Duration
    ) async throws -> CompleteResult {
        let result = try await base.complete(request, lease: lease, response: response, charge: charge, identity: identity, retention: retention)
        if loses == .complete { throw LostReply() }
        return result
    }

    func markUnknown(
        _ request: PaymentRequest, lease: Lease, identity: PaymentIdentity, retention: Duration, followUp: UnknownFollowUp
    ) async throws -> Bool {
        try await base.markUnknown(request, lease: lease, identity: identity, retention: retention, followUp: followUp)
    }

    func confirmReplay(_ request: PaymentRequest) async throws -> ReplayCheck {
        try await base.confirmReplay(request)
    }

    func abort(_ request: PaymentRequest, lease: Lease) async throws -> Bool {
        if loses == .abort { throw LostReply() }
        return try await base.abort(request, lease: lease)
    }

    func abandon(_ request: PaymentRequest, owner: String) async throws {
        try await base.abandon(request, owner: owner)
    }

    func extend(_ request: PaymentRequest, lease: Lease, to duration: Duration) async throws -> Bool {
        try await base.extend(request, lease: lease, to: duration)
    }

    func ledger(for user: UserID, tenant: Tenant?, charges window: ChargeWindow) async throws -> Ledger {
        try await base.ledger(for: user, tenant: tenant, charges: window)
    }

    func index(_ request: PaymentRequest, identity: PaymentIdentity, retention: Duration) async throws {
        try await base.index(request, identity: identity, retention: retention)
        if loses == .index { throw LostReply() }
    }

    func lookup(paymentID: String, tenant: Tenant?, secret: PaymentIdentity.Secret) async throws -> PaymentLookup? {
        try await base.lookup(paymentID: paymentID, tenant: tenant, secret: secret)
    }
}

@Suite("lost replies: every answer says what happened, no key stays stuck", .redisServer())
struct LostReplyTests {
    func service(_ redis: RedisClient, losing step: LosingStore.Step, failureRate: Double = 0) -> PaymentService {
        PaymentService(
            store: LosingStore(base: RedisIdempotencyStore(client: redis), loses: step),
            processor: SimulatedProcessor(failureRate: failureRate, latency: .zero),
            globalRateLimiter: nil,
            settings: .init(lease: .seconds(30), retention: .seconds(3600), userRateLimit: nil)
        )
    }

    @Test func aLostBeginReplyReleasesTheKeyItTook() async throws {
        try await withSuiteRedis { redis async throws in
            let payment = try request(user: uniqueUser("lost-begin"))
            #expect(await service(redis, losing: .begin).pay(payment).label == "unavailable")
            // The release is sent after the 503; the record it took must go, long before
            // its 30 s lease would end.
            try await waitUntil(timeout: .seconds(10)) {
                try await redis.send("EXISTS", .string(PaymentKeys().idempotency(payment))) == .integer(0)
            }
            #expect(await makeService(redis).pay(payment).label == "succeeded", "the retry runs at once, no 409")
        }
    }

    /// The processor is never sent an id that may not be findable: a failed index write
    /// releases the key, charges nothing, and answers 503 for a retry.
    @Test func aLostIndexReplyChargesNothingAndReleasesTheKey() async throws {
        try await withSuiteRedis { redis async throws in
            let payment = try request(user: uniqueUser("lost-index"))
            let processor = ScriptedProcessor()
            let losing = PaymentService(
                store: LosingStore(base: RedisIdempotencyStore(client: redis), loses: .index), processor: processor, globalRateLimiter: nil,
                settings: .init(lease: .seconds(30), retention: .seconds(3600), userRateLimit: nil)
            )
            #expect(await losing.pay(payment).label == "unavailable")
            #expect(processor.charged.isEmpty, "never sent to the processor")
            #expect(try await redis.send("EXISTS", .string(PaymentKeys().idempotency(payment))) == .integer(0), "released at once")
            #expect(await makeService(redis).pay(payment).label == "succeeded", "the retry runs at once, no 409")
        }
    }

    @Test func aLostCompleteReplyIsAnUnknownOutcomeNotAnUnavailableStore() async throws {
        try await withSuiteRedis { redis async throws in
            let payment = try request(user: uniqueUser("lost-complete"))
            #expect(await service(redis, losing: .complete).pay(payment).label == "outcome_unknown")
            // It did commit: the retry with the same key replays it, and it is charged once.
            #expect(await makeService(redis).pay(payment).label == "replayed")
            #expect(try await RedisIdempotencyStore(client: redis).ledger(for: payment.userID, tenant: nil).payments == 1)
        }
    }

    @Test func aProcessorFailureSaysWhetherTheKeyWasReleased() async throws {
        try await withSuiteRedis { redis async throws in
            let released = try request(user: uniqueUser("released"))
            guard case .processorFailed(_, let wasReleased) = await makeService(redis, failureRate: 1).pay(released) else {
                Issue.record("expected a processor failure")
                return
            }
            #expect(wasReleased)

            let held = try request(user: uniqueUser("held"))
            guard case .processorFailed(_, let heldReleased) = await service(redis, losing: .abort, failureRate: 1).pay(held) else {
                Issue.record("expected a processor failure")
                return
            }
            #expect(!heldReleased, "the release failed, and the outcome must not claim otherwise")
            #expect(try await redis.send("EXISTS", .string(PaymentKeys().idempotency(held))) == .integer(1))
        }
    }
}

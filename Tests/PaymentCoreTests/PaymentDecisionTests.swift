import PaymentCore
import PaymentStoreTesting
import Synchronization
import Testing

/// `PaymentService`'s decision table, one test per row, on `InMemoryPaymentStore` with a
/// clock the test moves: no redis-server and no sleeps (but the service's own in the
/// work-limit row, and polling for the release it sends without waiting). The same rows
/// run end to end on Redis in PaymentRedisTests (PaymentFlowTests, UnknownOutcomeTests,
/// LostReplyTests); the store contract keeps the two stores alike.
///
/// The watchdog is off throughout: it extends leases on real time, and here a lease ends
/// only when the test moves the clock.
@Suite("the payment service's decision table, on the in-memory store")
struct PaymentDecisionTests {
    let clock: ManualClock
    let store: InMemoryPaymentStore

    init() {
        let clock = ManualClock()
        self.clock = clock
        self.store = InMemoryPaymentStore(clock: clock)
    }

    // MARK: answers of the processor

    @Test func aPaymentIsFindableByItsIDBeforeTheProcessorIsAsked() async throws {
        let payment = try Self.payment(key: "indexed-first")
        let identity = Self.identity(payment)
        let store = self.store
        let processor = DecisionProcessor([.charged(chargeID: "ch_1")]) { _ in
            let status = try? await store.lookup(paymentID: identity.paymentID, tenant: nil, secret: .unset)?.status
            #expect(status == .inProgress, "found while the processor works")
        }
        #expect(await makeService(processor).pay(payment).label == "succeeded")
        #expect(processor.charged.count == 1)
        #expect(try await store.lookup(paymentID: identity.paymentID, tenant: nil, secret: .unset)?.status == .charged)
    }

    @Test func anIDThatCannotBeIndexedIsNeverSentAndItsKeyIsReleased() async throws {
        for fault in [FaultyStore.Fault.unreachable, .replyLost] {
            let payment = try Self.payment(key: "not-indexed-\(fault)")
            let processor = DecisionProcessor([.charged(chargeID: "ch_1")])
            let outcome = await makeService(processor, store: FaultyStore(base: store, failing: .index, fault: fault)).pay(payment)
            guard case .unavailable(let reason) = outcome else {
                Issue.record("expected unavailable, got \(outcome)")
                continue
            }
            #expect(reason.hasPrefix("payment index:"))
            #expect(processor.charged.isEmpty, "the processor was never asked")
            #expect(store.phase(of: payment) == nil, "the key is released for the retry")
        }
    }

    @Test func aChargeSucceedsIsStoredAndChargedOnce() async throws {
        let processor = DecisionProcessor([.charged(chargeID: "ch_1")])
        let payment = try Self.payment()
        guard case .succeeded(let response, let rateLimit) = await makeService(processor).pay(payment) else {
            Issue.record("a charge is a success")
            return
        }
        #expect(response.status == 200)
        #expect(String(decoding: response.body, as: UTF8.self).contains(#""charge_id":"ch_1""#))
        #expect(rateLimit == nil)
        #expect(processor.charged.map(\.identity) == [Self.identity(payment)], "the identity derived from the key")
        #expect((processor.charged.first?.fence ?? 0) > 0, "the processor is sent the lease's fence")
        #expect(store.phase(of: payment) == .done)
        let ledger = try await store.ledger(for: payment.userID, tenant: nil)
        #expect(ledger.payments == 1)
        #expect(ledger.charges.map(\.chargeID) == ["ch_1"])
    }

    @Test func aDeclineIsAFinalAnswerStoredAndReplayedButNotCharged() async throws {
        let processor = DecisionProcessor([.declined(code: "card_declined", message: "insufficient funds")])
        let service = makeService(processor)
        let payment = try Self.payment()
        guard case .declined(let response, _) = await service.pay(payment) else {
            Issue.record("a decline is declined")
            return
        }
        #expect(response.status == PaymentDecline.status)
        #expect(String(decoding: response.body, as: UTF8.self).contains("card_declined"))
        #expect(try await store.ledger(for: payment.userID, tenant: nil).payments == 0)
        #expect(await service.pay(payment) == .replayed(response, rateLimit: nil))
        #expect(processor.charged.count == 1)
    }

    @Test func aCompletedKeyIsReplayedWithTheSameBytesAndNotChargedAgain() async throws {
        let processor = DecisionProcessor([.charged(chargeID: "ch_1")])
        let service = makeService(processor)
        let payment = try Self.payment()
        guard case .succeeded(let original, _) = await service.pay(payment) else {
            Issue.record("the first attempt succeeds")
            return
        }
        #expect(await service.pay(payment) == .replayed(original, rateLimit: nil))
        #expect(processor.charged.count == 1)
        #expect(try await store.ledger(for: payment.userID, tenant: nil).payments == 1)
    }

    @Test func aRefusalReleasesTheKeyAndIsProcessorFailed() async throws {
        let processor = DecisionProcessor([.failed("the processor refused the request with 400"), .charged(chargeID: "ch_2")])
        let service = makeService(processor)
        let payment = try Self.payment()
        #expect(await service.pay(payment) == .processorFailed("the processor refused the request with 400", keyReleased: true))
        #expect(store.phase(of: payment) == nil, "nothing stored")
        // Nothing was in doubt: the key is free for any payload.
        #expect(await service.pay(try Self.payment(amountMinor: 1_200)).label == "succeeded")
        #expect(try await store.ledger(for: payment.userID, tenant: nil).totals == ["USD": 1_200])
    }

    @Test func aRefusalWhoseReleaseFailedSaysTheKeyIsStillHeld() async throws {
        let processor = DecisionProcessor([.failed("the processor refused the request with 400")])
        let payment = try Self.payment()
        let losingAbort = FaultyStore(base: store, failing: .abort)
        #expect(await makeService(processor, store: losingAbort).pay(payment)
            == .processorFailed("the processor refused the request with 400", keyReleased: false))
        #expect(store.phase(of: payment) == .inFlight, "held until its lease ends")
        clock.advance(by: Self.lease)
        #expect(store.phase(of: payment) == nil)
    }

    @Test func anUnknownAnswerKeepsTheRecordUnknownAndTheRetryRedrivesWithTheSameKey() async throws {
        let processor = DecisionProcessor([.unknown("the processor answered 500"), .charged(chargeID: "ch_9")])
        let service = makeService(processor)
        let payment = try Self.payment()
        let identity = Self.identity(payment)
        #expect(await service.pay(payment)
            == .outcomeUnknown(UnknownOutcome(.processor("the processor answered 500", recorded: true), paymentID: identity.paymentID)))
        #expect(store.phase(of: payment) == .unknown)
        #expect(try await store.ledger(for: payment.userID, tenant: nil).unknown.map(\.paymentID) == [identity.paymentID])
        // The reconciler is scheduled after the service's delay.
        #expect(try await store.counts() == UnknownCounts(pending: 1, unresolved: 0))
        #expect(try await store.due(limit: 10).isEmpty)
        clock.advance(by: Self.reconcileDelay)
        #expect(try await store.due(limit: 10) == [UnknownPaymentReference(payment)])

        #expect(await service.pay(try Self.payment(amountMinor: 9_900)) == .fingerprintMismatch, "the key keeps its payload")
        #expect(processor.charged.count == 1, "the other payload never reached the processor")

        guard case .succeeded(let receipt, _) = await service.pay(payment) else {
            Issue.record("the retry with the same payload re-drives and charges")
            return
        }
        #expect(String(decoding: receipt.body, as: UTF8.self).contains(#""charge_id":"ch_9""#))
        #expect(processor.charged.map(\.identity) == [identity, identity], "both attempts under one processor key")
        let fences = processor.charged.map(\.fence)
        let grew = fences.count == 2 && fences[0] < fences[1]
        #expect(grew, "the re-drive's fence is above the first attempt's: \(fences)")
        let ledger = try await store.ledger(for: payment.userID, tenant: nil)
        #expect(ledger.payments == 1)
        #expect(ledger.unknown.isEmpty)
    }

    @Test func anUnknownAnswerThatCouldNotBeRecordedSaysSo() async throws {
        let processor = DecisionProcessor([.unknown("the connection dropped")])
        let payment = try Self.payment()
        let failingMark = FaultyStore(base: store, failing: .markUnknown)
        #expect(await makeService(processor, store: failingMark).pay(payment)
            == .outcomeUnknown(UnknownOutcome(.processor("the connection dropped", recorded: false), paymentID: Self.identity(payment).paymentID)))
        #expect(store.phase(of: payment) == .inFlight, "held until its lease ends; a retry then asks the processor again")
        #expect(try await store.counts() == UnknownCounts(pending: 0, unresolved: 0))
    }

    @Test func aRefusalAfterAnUnknownAttemptIsStillUnknownNeverProcessorFailed() async throws {
        let processor = DecisionProcessor([.unknown("the processor answered 500"), .failed("the processor refused the request with 401")])
        let service = makeService(processor)
        let payment = try Self.payment()
        let paymentID = Self.identity(payment).paymentID
        #expect(await service.pay(payment).label == "outcome_unknown")
        #expect(await service.pay(payment) == .outcomeUnknown(UnknownOutcome(
            .processor("the processor refused the request with 401; an earlier attempt's outcome is still unknown", recorded: true),
            paymentID: paymentID
        )))
        #expect(store.phase(of: payment) == .unknown, "back to unknown, not released")

        // The same refusal when the record cannot be put back: unknown, and not recorded.
        let refusing = DecisionProcessor([.failed("the processor refused the request with 401")])
        let outcome = await makeService(refusing, store: FaultyStore(base: store, failing: .abort)).pay(payment)
        guard case .outcomeUnknown(let unknown) = outcome, case .processor(_, let recorded) = unknown.cause else {
            Issue.record("still unknown, got \(outcome)")
            return
        }
        #expect(!recorded)
        #expect(store.phase(of: payment) == .inFlight)
    }

    @Test func aProcessorStillWorkingOnTheKeyIsInFlightAndThePaymentKeptUnknown() async throws {
        let processor = DecisionProcessor([.busy(retryAfterMilliseconds: 2_000), .charged(chargeID: "ch_5")])
        let service = makeService(processor)
        let payment = try Self.payment()
        #expect(await service.pay(payment) == .inFlight(retryAfterMilliseconds: 2_000))
        #expect(store.phase(of: payment) == .unknown, "the earlier attempt may still charge")
        #expect(try await store.counts().pending == 1, "the reconciler finds out if no client comes back")
        #expect(await service.pay(payment).label == "succeeded", "the retry, after it, gets the charge")
        #expect(processor.charged.map(\.identity.processorKey) == Array(repeating: Self.identity(payment).processorKey, count: 2))
    }

    @Test func workPastTheLimitIsGivenUpAsUnknown() async throws {
        // Answers only when cancelled: the work limit (50 ms) ends it.
        let stalling = DecisionProcessor([.charged(chargeID: "ch_late")]) { _ in _ = try? await Task.sleep(for: .seconds(60)) }
        let payment = try Self.payment()
        let outcome = await makeService(stalling, maximumWork: .milliseconds(50)).pay(payment)
        guard case .outcomeUnknown(let unknown) = outcome, case .processor(let reason, true) = unknown.cause else {
            Issue.record("work past the limit is an unknown outcome, recorded; got \(outcome)")
            return
        }
        #expect(reason.contains("work limit"))
        #expect(store.phase(of: payment) == .unknown, "not held: the retry re-drives at once")
    }

    // MARK: answers of the store

    @Test func aKeyHeldByAnotherAttemptIsInFlightForWhatIsLeftOfItsLease() async throws {
        let processor = DecisionProcessor([.charged(chargeID: "ch_1")])
        let payment = try Self.payment()
        _ = try await store.begin(payment, owner: "another-attempt", lease: Self.lease, retention: Self.retention, rateLimit: nil)
        clock.advance(by: .seconds(4))
        #expect(await makeService(processor).pay(payment) == .inFlight(retryAfterMilliseconds: 6_000))
        #expect(await makeService(processor).pay(try Self.payment(amountMinor: 5)) == .fingerprintMismatch, "another payload, in flight")
        #expect(processor.charged.isEmpty)
    }

    @Test func anotherPayloadUnderACompletedKeyIsAMismatch() async throws {
        let processor = DecisionProcessor([.charged(chargeID: "ch_1")])
        let service = makeService(processor)
        #expect(await service.pay(try Self.payment()).label == "succeeded")
        #expect(await service.pay(try Self.payment(amountMinor: 1_001)) == .fingerprintMismatch)
        #expect(await service.pay(try Self.payment(currency: try #require(Currency(code: "EUR")))) == .fingerprintMismatch)
        #expect(processor.charged.count == 1)
    }

    @Test func anEmptyUserBucketIsRateLimitedBeforeAnythingIsTaken() async throws {
        let policy = RateLimitPolicy(name: "user", capacity: 1, refillPerSecond: 1)
        let processor = DecisionProcessor([.charged(chargeID: "ch_1")])
        let service = makeService(processor, userRateLimit: policy)
        let bucketStatus = RateLimitStatus(policy: policy, remaining: 0, resetMilliseconds: 1_000)
        guard case .succeeded(_, let status) = await service.pay(try Self.payment(key: "k-1")) else {
            Issue.record("the first payment takes the only token")
            return
        }
        #expect(status == bucketStatus)
        let limited = try Self.payment(key: "k-2")
        #expect(await service.pay(limited) == .rateLimited(bucketStatus, retryAfterMilliseconds: 1_000))
        #expect(store.phase(of: limited) == nil, "nothing was read or written")
        #expect(processor.charged.count == 1)
        clock.advance(by: .seconds(1))
        #expect(await service.pay(limited).label == "succeeded", "a second later the bucket has a token again")
    }

    @Test func theSharedBucketIsCheckedFirstAndFailsClosed() async throws {
        let policy = RateLimitPolicy(name: "global", capacity: 100, refillPerSecond: 10)
        let status = RateLimitStatus(policy: policy, remaining: 0, resetMilliseconds: 10_000)
        let processor = DecisionProcessor([.charged(chargeID: "ch_1")])
        let payment = try Self.payment()

        let empty = FixedRateLimiter(policy: policy, decision: .limited(status, retryAfterMilliseconds: 100))
        #expect(await makeService(processor, globalRateLimiter: empty).pay(payment) == .rateLimited(status, retryAfterMilliseconds: 100))

        let down = FixedRateLimiter(policy: policy, decision: nil)
        guard case .unavailable(let reason) = await makeService(processor, globalRateLimiter: down).pay(payment) else {
            Issue.record("a limiter that cannot answer fails closed")
            return
        }
        #expect(reason.hasPrefix("rate limiter"))
        #expect(store.phase(of: payment) == nil)
        #expect(processor.charged.isEmpty)
    }

    @Test func workThatOutlivesItsLeaseCannotCommit() async throws {
        // The processor answers after the lease (10 s) ran out: the record is gone.
        let clock = self.clock
        let slow = DecisionProcessor([.charged(chargeID: "ch_late")]) { _ in clock.advance(by: .seconds(11)) }
        let payment = try Self.payment()
        #expect(await makeService(slow).pay(payment) == .leaseLost)
        #expect(try await store.ledger(for: payment.userID, tenant: nil).payments == 0, "this attempt recorded nothing")
        #expect(store.phase(of: payment) == nil)
        // A retry decides, with the same processor key (the processor charges at most once).
        let retry = DecisionProcessor([.charged(chargeID: "ch_late")])
        #expect(await makeService(retry).pay(payment).label == "succeeded")
        #expect(retry.charged.map(\.identity) == slow.charged.map(\.identity))
        #expect(try await store.ledger(for: payment.userID, tenant: nil).payments == 1)
    }

    @Test func aTakeoverWhileTheWorkRanLeavesTheOldAttemptLeaseLost() async throws {
        // The lease runs out and another attempt takes the key before this one answers.
        let (clock, store) = (self.clock, self.store)
        let payment = try Self.payment()
        let slow = DecisionProcessor([.charged(chargeID: "ch_old")]) { _ in
            clock.advance(by: .seconds(11))
            _ = try? await store.begin(payment, owner: "the-new-holder", lease: .seconds(10), retention: .seconds(3600), rateLimit: nil)
        }
        #expect(await makeService(slow).pay(payment) == .leaseLost)
        #expect(store.phase(of: payment) == .inFlight, "the new holder's record is untouched")
        #expect(try await store.ledger(for: payment.userID, tenant: nil).payments == 0)
    }

    @Test func aStoreThatCannotBeginIsUnavailable() async throws {
        let processor = DecisionProcessor([.charged(chargeID: "ch_1")])
        let payment = try Self.payment()
        guard case .unavailable(let reason) = await makeService(processor, store: FaultyStore(base: store, failing: .begin)).pay(payment) else {
            Issue.record("a store that does not answer fails closed")
            return
        }
        #expect(reason.hasPrefix("begin:"))
        #expect(processor.charged.isEmpty)
    }

    @Test func aLostBeginReplyIsUnavailableAndTheKeyItTookIsReleased() async throws {
        let processor = DecisionProcessor([.charged(chargeID: "ch_1")])
        let payment = try Self.payment()
        let lostBegin = FaultyStore(base: store, failing: .begin, fault: .replyLost)
        #expect(await makeService(processor, store: lostBegin).pay(payment).label == "unavailable")
        // The service releases it without waiting (abandon by owner); not for a whole lease.
        try await eventually("the record taken by the lost begin is released") { store.phase(of: payment) == nil }
        #expect(await makeService(processor).pay(payment).label == "succeeded", "the retry runs at once, no 409")
    }

    @Test func aLostCompleteReplyThatCommittedIsUnknownAndTheRetryReplays() async throws {
        let processor = DecisionProcessor([.charged(chargeID: "ch_1")])
        let payment = try Self.payment()
        let lostComplete = FaultyStore(base: store, failing: .complete, fault: .replyLost)
        let outcome = await makeService(processor, store: lostComplete).pay(payment)
        guard case .outcomeUnknown(let unknown) = outcome, case .recordUnconfirmed = unknown.cause else {
            Issue.record("a lost complete reply is an unknown outcome, got \(outcome)")
            return
        }
        #expect(unknown.paymentID == Self.identity(payment).paymentID)
        #expect(store.phase(of: payment) == .done, "it committed; marking it unknown changed nothing")
        #expect(await makeService(processor).pay(payment).label == "replayed")
        #expect(processor.charged.count == 1)
        #expect(try await store.ledger(for: payment.userID, tenant: nil).payments == 1)
    }

    @Test func aCompleteThatDidNotCommitIsUnknownAndTheRetryRedrives() async throws {
        let processor = DecisionProcessor([.charged(chargeID: "ch_1")])
        let payment = try Self.payment()
        let downComplete = FaultyStore(base: store, failing: .complete)
        let outcome = await makeService(processor, store: downComplete).pay(payment)
        guard case .outcomeUnknown(let unknown) = outcome, case .recordUnconfirmed = unknown.cause else {
            Issue.record("an unanswered complete is an unknown outcome, got \(outcome)")
            return
        }
        #expect(store.phase(of: payment) == .unknown, "kept for the retry and the reconciler")
        #expect(await makeService(processor).pay(payment).label == "succeeded")
        #expect(processor.charged.map(\.identity) == [Self.identity(payment), Self.identity(payment)])
        #expect(try await store.ledger(for: payment.userID, tenant: nil).payments == 1)
    }

    @Test func aCommitFewerReplicasAcknowledgedIsUnknown() async throws {
        let shortfall = ReplicaShortfall(acknowledged: 0, required: 1)
        let payment = try Self.payment()
        let unreplicated = FaultyStore(base: store, completeShortfall: shortfall)
        #expect(await makeService(DecisionProcessor([.charged(chargeID: "ch_1")]), store: unreplicated).pay(payment)
            == .outcomeUnknown(UnknownOutcome(.notReplicated(shortfall), paymentID: Self.identity(payment).paymentID)))
        #expect(store.phase(of: payment) == .done, "committed on the master")
    }

    @Test func aReplayIsAnsweredOnlyOnceConfirmed() async throws {
        let processor = DecisionProcessor([.charged(chargeID: "ch_1")])
        let payment = try Self.payment()
        let paymentID = Self.identity(payment).paymentID
        #expect(await makeService(processor).pay(payment).label == "succeeded")

        let gone = FaultyStore(base: store, replayCheck: .gone)
        #expect(await makeService(processor, store: gone).pay(payment)
            == .outcomeUnknown(UnknownOutcome(.recordUnconfirmed("the replayed record is gone"), paymentID: paymentID)))

        let shortfall = ReplicaShortfall(acknowledged: 1, required: 2)
        let unreplicated = FaultyStore(base: store, replayCheck: .notReplicated(shortfall))
        #expect(await makeService(processor, store: unreplicated).pay(payment)
            == .outcomeUnknown(UnknownOutcome(.notReplicated(shortfall), paymentID: paymentID)))

        let unanswered = FaultyStore(base: store, failing: .confirmReplay)
        let outcome = await makeService(processor, store: unanswered).pay(payment)
        guard case .outcomeUnknown(let unknown) = outcome, case .recordUnconfirmed(let reason) = unknown.cause else {
            Issue.record("an unconfirmed replay is unknown, got \(outcome)")
            return
        }
        #expect(reason.hasPrefix("replicas of the replayed record"))
        #expect(processor.charged.count == 1, "none of these charges again")
    }

    // MARK: before the store

    @Test func tooFewReplicasRefuseBeforeAnythingIsTaken() async throws {
        let shortfall = ReplicaShortfall(acknowledged: 0, required: 1)
        let processor = DecisionProcessor([.charged(chargeID: "ch_1")])
        let payment = try Self.payment()
        #expect(await makeService(processor, replicaGate: FixedReplicaGate(missing: shortfall)).pay(payment) == .replicasMissing(shortfall))
        #expect(store.phase(of: payment) == nil)
        #expect(processor.charged.isEmpty)
    }

    @Test func theQuorumLockDecidesBeforeTheStore() async throws {
        let processor = DecisionProcessor([.charged(chargeID: "ch_1")])
        let payment = try Self.payment()
        let held = FixedKeyLock(acquisition: .held(retryAfterMilliseconds: 700))
        #expect(await makeService(processor, keyLock: held).pay(payment) == .inFlight(retryAfterMilliseconds: 700))
        let noQuorum = FixedKeyLock(acquisition: .unavailable("2 of 3 nodes down"))
        #expect(await makeService(processor, keyLock: noQuorum).pay(payment) == .unavailable("lock quorum: 2 of 3 nodes down"))
        #expect(store.phase(of: payment) == nil)
        #expect(processor.charged.isEmpty)
        let free = FixedKeyLock(acquisition: .acquired(validity: .seconds(10)))
        #expect(await makeService(processor, keyLock: free).pay(payment).label == "succeeded")
    }
}

// MARK: - Helpers

extension PaymentDecisionTests {
    static let lease = Duration.seconds(10)
    static let retention = Duration.seconds(3600)
    static let reconcileDelay = Duration.seconds(5)

    func makeService(
        _ processor: DecisionProcessor, store: (any IdempotencyStore)? = nil, userRateLimit: RateLimitPolicy? = nil,
        globalRateLimiter: (any RateLimiter)? = nil, keyLock: (any KeyLock)? = nil, replicaGate: (any ReplicaGate)? = nil,
        maximumWork: Duration? = nil
    ) -> PaymentService {
        PaymentService(
            store: store ?? self.store, processor: processor, globalRateLimiter: globalRateLimiter, keyLock: keyLock, replicaGate: replicaGate,
            settings: .init(
                lease: Self.lease, retention: Self.retention, userRateLimit: userRateLimit, watchdog: false, maximumWork: maximumWork,
                reconcileDelay: Self.reconcileDelay
            )
        )
    }

    /// One user per test is enough: every test has a store of its own.
    static func payment(key: String = "key-1", amountMinor: Int64 = 1_000, currency: Currency = .usd) throws -> PaymentRequest {
        PaymentRequest(userID: try UserID("decision-user"), amountMinor: amountMinor, currency: currency, idempotencyKey: try IdempotencyKey(key))
    }

    /// What the service derives (its secret is the default, `.unset`).
    static func identity(_ request: PaymentRequest) -> PaymentIdentity {
        PaymentIdentity(for: request, secret: .unset)
    }

    /// Polls (every millisecond, for at most 5 s) for what the service does without
    /// waiting: the release after a lost `begin` reply.
    func eventually(_ what: Comment, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record(what)
                return
            }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    /// A processor whose answers the test decides, one per charge (the last repeats),
    /// and which remembers every charge; `beforeAnswer` runs first (moves the clock,
    /// stalls). Modelled on PaymentRedisTests' ScriptedProcessor.
    final class DecisionProcessor: PaymentProcessor {
        private struct State {
            var answers: [ProcessorResult]
            var charged: [ProcessorCharge] = []
        }

        private let state: Mutex<State>
        private let beforeAnswer: @Sendable (ProcessorCharge) async -> Void

        init(_ answers: [ProcessorResult], beforeAnswer: @escaping @Sendable (ProcessorCharge) async -> Void = { _ in }) {
            precondition(!answers.isEmpty, "a processor needs an answer")
            state = Mutex(State(answers: answers))
            self.beforeAnswer = beforeAnswer
        }

        var charged: [ProcessorCharge] { state.withLock { $0.charged } }

        func charge(_ charge: ProcessorCharge) async -> ProcessorResult {
            await beforeAnswer(charge)
            return state.withLock { state in
                state.charged.append(charge)
                return state.answers.count > 1 ? state.answers.removeFirst() : state.answers[0]
            }
        }

        func lookup(processorKey: String) async -> ProcessorLookup {
            .unknown("the service never looks up; the reconciler does")
        }
    }

    struct StoreDown: Error, CustomStringConvertible {
        var description: String { "the store did not answer" }
    }

    /// The in-memory store with one step failing: `.unreachable` throws before the step
    /// (nothing written), `.replyLost` after it (written; the caller cannot know). It can
    /// also answer as a store with replicas would: a shortfall on `complete` (committed
    /// on the master), or a replay check of its choosing.
    struct FaultyStore: IdempotencyStore {
        enum Step: Sendable { case begin, index, complete, markUnknown, confirmReplay, abort, abandon, extend }
        enum Fault: Sendable { case unreachable, replyLost }

        let base: InMemoryPaymentStore
        var failing: Step?
        var fault: Fault = .unreachable
        var completeShortfall: ReplicaShortfall?
        var replayCheck: ReplayCheck?

        init(
            base: InMemoryPaymentStore, failing: Step? = nil, fault: Fault = .unreachable, completeShortfall: ReplicaShortfall? = nil,
            replayCheck: ReplayCheck? = nil
        ) {
            self.base = base
            self.failing = failing
            self.fault = fault
            self.completeShortfall = completeShortfall
            self.replayCheck = replayCheck
        }

        private func perform<T>(_ step: Step, _ body: () async throws -> T) async throws -> T {
            if failing == step, fault == .unreachable { throw StoreDown() }
            let result = try await body()
            if failing == step, fault == .replyLost { throw StoreDown() }
            return result
        }

        func begin(_ request: PaymentRequest, owner: String, lease: Duration, retention: Duration, rateLimit: RateLimitPolicy?) async throws -> BeginResult {
            try await perform(.begin) {
                try await base.begin(request, owner: owner, lease: lease, retention: retention, rateLimit: rateLimit)
            }
        }

        func complete(
            _ request: PaymentRequest, lease: Lease, response: StoredResponse, charge: LedgerCharge?, identity: PaymentIdentity, retention: Duration
        ) async throws -> CompleteResult {
            let result = try await perform(.complete) {
                try await base.complete(request, lease: lease, response: response, charge: charge, identity: identity, retention: retention)
            }
            if let completeShortfall, result == .committed { return .notReplicated(completeShortfall) }
            return result
        }

        func markUnknown(
            _ request: PaymentRequest, lease: Lease, identity: PaymentIdentity, retention: Duration, followUp: UnknownFollowUp
        ) async throws -> Bool {
            try await perform(.markUnknown) {
                try await base.markUnknown(request, lease: lease, identity: identity, retention: retention, followUp: followUp)
            }
        }

        func confirmReplay(_ request: PaymentRequest) async throws -> ReplayCheck {
            if let replayCheck { return replayCheck }
            return try await perform(.confirmReplay) { try await base.confirmReplay(request) }
        }

        func abort(_ request: PaymentRequest, lease: Lease) async throws -> Bool {
            try await perform(.abort) { try await base.abort(request, lease: lease) }
        }

        func abandon(_ request: PaymentRequest, owner: String) async throws {
            try await perform(.abandon) { try await base.abandon(request, owner: owner) }
        }

        func extend(_ request: PaymentRequest, lease: Lease, to duration: Duration) async throws -> Bool {
            try await perform(.extend) { try await base.extend(request, lease: lease, to: duration) }
        }

        func ledger(for user: UserID, tenant: Tenant?, charges window: ChargeWindow) async throws -> Ledger {
            try await base.ledger(for: user, tenant: tenant, charges: window)
        }

        func index(_ request: PaymentRequest, identity: PaymentIdentity, retention: Duration) async throws {
            try await perform(.index) { try await base.index(request, identity: identity, retention: retention) }
        }

        func lookup(paymentID: String, tenant: Tenant?, secret: PaymentIdentity.Secret) async throws -> PaymentLookup? {
            try await base.lookup(paymentID: paymentID, tenant: tenant, secret: secret)
        }
    }

    /// The shared bucket's answer, or (nil) a limiter that cannot be reached.
    struct FixedRateLimiter: RateLimiter {
        let policy: RateLimitPolicy
        let decision: RateLimitDecision?

        func acquire() async throws -> RateLimitDecision {
            guard let decision else { throw StoreDown() }
            return decision
        }
    }

    struct FixedReplicaGate: ReplicaGate {
        let missing: ReplicaShortfall?

        func shortfall(for request: PaymentRequest) -> ReplicaShortfall? { missing }
    }

    struct FixedKeyLock: KeyLock {
        let acquisition: KeyLockAcquisition

        func acquire(_ request: PaymentRequest, owner: String, ttl: Duration) async -> KeyLockAcquisition { acquisition }
        func extend(_ request: PaymentRequest, owner: String, ttl: Duration) async -> Duration? { nil }
        func release(_ request: PaymentRequest, owner: String) async {}
    }
}

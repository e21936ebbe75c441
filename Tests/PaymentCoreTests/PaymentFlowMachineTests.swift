import PaymentCore
import Testing

/// `PaymentFlow`, the payment's rules, with no driver at all: each row feeds the machine
/// the ports' answers and checks every step it asks for and the outcome it ends with.
/// Every branch of every answer has a row; PaymentDecisionTests runs the same rules
/// through `PaymentService` on the in-memory store.
@Suite("the payment flow's state machine, answer by answer")
struct PaymentFlowMachineTests {
    /// An answer of a port, in the order the flow asks for them.
    enum Answer {
        case globalLimit(Result<RateLimitDecision, PortError>)
        case keyLock(KeyLockAcquisition)
        case begun(Result<BeginResult, PortError>)
        case indexed(Result<Void, PortError>)
        case replay(Result<ReplayCheck, PortError>)
        case charged(ProcessorResult)
        case completed(Result<CompleteResult, PortError>)
        case markedUnknown(Bool)
        case aborted(Bool)
    }

    static let request = PaymentRequest(
        userID: try! UserID("flow-user"), amountMinor: 1_250, currency: .usd, idempotencyKey: try! IdempotencyKey("flow-key")
    )
    static let identity = PaymentIdentity(for: request, secret: .unset)
    static let earlier = PaymentIdentity(paymentID: "pay_earlier", processorKey: "pk_earlier")
    static let lease = Lease(owner: "owner-1", fence: 42)
    static let policy = RateLimitPolicy(name: "user", capacity: 10, refillPerSecond: 10)
    static let status = RateLimitStatus(policy: policy, remaining: 3, resetMilliseconds: 700)
    static let stored = StoredResponse(status: 200, body: Array("stored".utf8))
    static let shortfall = ReplicaShortfall(acknowledged: 0, required: 1)
    static let failure = PortError(description: "connection reset")
    static let reconcileDelay = Duration.seconds(7)

    /// Runs the flow over `answers` and returns every action it asked for, the last one
    /// `finish`.
    func run(
        _ answers: [Answer], limiter: Bool = false, lock: Bool = false, shortfall: ReplicaShortfall? = nil
    ) -> (actions: [PaymentFlow.Action], flow: PaymentFlow) {
        var flow = PaymentFlow(
            request: Self.request, owner: "owner-1",
            settings: .init(lease: .seconds(3), retention: .seconds(60), userRateLimit: nil, reconcileDelay: Self.reconcileDelay),
            hasGlobalLimiter: limiter, hasKeyLock: lock
        )
        var actions = [flow.start(replicaShortfall: shortfall)]
        for answer in answers {
            switch answer {
            case .globalLimit(let result): actions.append(flow.globalLimitDecided(result))
            case .keyLock(let acquisition): actions.append(flow.keyLockAnswered(acquisition))
            case .begun(let result): actions.append(flow.begun(result))
            case .indexed(let result): actions.append(flow.indexed(result))
            case .replay(let result): actions.append(flow.replayConfirmed(result))
            case .charged(let result): actions.append(flow.charged(result))
            case .completed(let result): actions.append(flow.completed(result))
            case .markedUnknown(let recorded): actions.append(flow.markedUnknown(recorded))
            case .aborted(let released): actions.append(flow.aborted(released))
            }
        }
        return (actions, flow)
    }

    static var charge: PaymentFlow.Action { .charge(ProcessorCharge(request: request, identity: identity, fence: 42), lease: lease) }
    static var markUnknown: PaymentFlow.Action {
        .markUnknown(lease: lease, identity: identity, followUp: .recheck(after: reconcileDelay, attempts: nil))
    }
    static func unknown(_ cause: UnknownOutcome.Cause, paymentID: String = identity.paymentID) -> PaymentFlow.Action {
        .finish(.outcomeUnknown(UnknownOutcome(cause, paymentID: paymentID)), abandon: false)
    }

    // MARK: before the key is taken

    @Test func tooFewReplicasRefuseBeforeAnythingElse() {
        #expect(run([], limiter: true, lock: true, shortfall: Self.shortfall).actions == [.finish(.replicasMissing(Self.shortfall), abandon: false)])
    }

    @Test func theSharedBucketComesFirstAndFailsClosed() {
        #expect(run([.globalLimit(.success(.limited(Self.status, retryAfterMilliseconds: 900)))], limiter: true).actions == [
            .acquireGlobalLimit, .finish(.rateLimited(Self.status, retryAfterMilliseconds: 900), abandon: false),
        ])
        #expect(run([.globalLimit(.failure(Self.failure))], limiter: true).actions == [
            .acquireGlobalLimit, .finish(.unavailable("rate limiter: connection reset"), abandon: false),
        ])
        #expect(run([.globalLimit(.success(.allowed(Self.status)))], limiter: true).actions == [.acquireGlobalLimit, .begin])
    }

    @Test func theQuorumLockIsTakenBeforeBeginAndHeldAfter() {
        #expect(run([.keyLock(.held(retryAfterMilliseconds: 250))], lock: true).actions == [
            .acquireKeyLock, .finish(.inFlight(retryAfterMilliseconds: 250), abandon: false),
        ])
        #expect(run([.keyLock(.unavailable("2 of 3 nodes down"))], lock: true).actions == [
            .acquireKeyLock, .finish(.unavailable("lock quorum: 2 of 3 nodes down"), abandon: false),
        ])
        let taken = run([.keyLock(.acquired(validity: .seconds(2)))], lock: true)
        #expect(taken.actions == [.acquireKeyLock, .begin])
        #expect(taken.flow.holdsQuorumLock, "released before the answer")
        #expect(!run([]).flow.holdsQuorumLock)
    }

    // MARK: what begin found

    @Test func aLostBeginReplyIsUnavailableAndReleasesWhatTheOwnerTook() {
        #expect(run([.begun(.failure(Self.failure))]).actions == [.begin, .finish(.unavailable("begin: connection reset"), abandon: true)])
    }

    @Test func answersOfBeginThatEndThePayment() {
        #expect(run([.begun(.success(.fingerprintMismatch))]).actions.last == .finish(.fingerprintMismatch, abandon: false))
        #expect(run([.begun(.success(.inFlight(retryAfterMilliseconds: 1_800)))]).actions.last
            == .finish(.inFlight(retryAfterMilliseconds: 1_800), abandon: false))
        #expect(run([.begun(.success(.rateLimited(Self.status, retryAfterMilliseconds: 100)))]).actions.last
            == .finish(.rateLimited(Self.status, retryAfterMilliseconds: 100), abandon: false))
    }

    @Test func aReplayIsAnsweredOnlyOnceConfirmed() {
        let replay = Answer.begun(.success(.replay(Self.stored, rateLimit: Self.status)))
        #expect(run([replay, .replay(.success(.confirmed))]).actions == [
            .begin, .confirmReplay, .finish(.replayed(Self.stored, rateLimit: Self.status), abandon: false),
        ])
        #expect(run([replay, .replay(.success(.notReplicated(Self.shortfall)))]).actions.last == Self.unknown(.notReplicated(Self.shortfall)))
        #expect(run([replay, .replay(.success(.gone))]).actions.last == Self.unknown(.recordUnconfirmed("the replayed record is gone")))
        #expect(run([replay, .replay(.failure(Self.failure))]).actions.last
            == Self.unknown(.recordUnconfirmed("replicas of the replayed record: connection reset")))
    }

    @Test func aFreeKeyIsIndexedThenChargedWithThePaymentsIdentityAndARedriveWithTheEarlierOne() {
        #expect(run([.begun(.success(.acquired(Self.lease, rateLimit: nil))), Self.indexed]).actions == [
            .begin, .index(Self.identity), Self.charge,
        ])
        // A re-drive's id was indexed before its first attempt was sent.
        let redrive = run([.begun(.success(.redrive(Self.lease, rateLimit: nil, earlier: Self.earlier)))])
        #expect(redrive.actions == [.begin, .charge(ProcessorCharge(request: Self.request, identity: Self.earlier, fence: 42), lease: Self.lease)])
    }

    @Test func anIDThatCouldNotBeIndexedIsNotSentAndItsKeyIsReleased() {
        let actions = run([Self.acquired, .indexed(.failure(Self.failure)), .aborted(true)]).actions
        #expect(actions == [.begin, .index(Self.identity), .abort(lease: Self.lease), .finish(.unavailable("payment index: connection reset"), abandon: false)])
        #expect(run([Self.acquired, .indexed(.failure(Self.failure)), .aborted(false)]).actions.last
            == .finish(.unavailable("payment index: connection reset"), abandon: false), "unavailable either way: nothing was charged")
    }

    // MARK: what the processor answered

    static let acquired = Answer.begun(.success(.acquired(lease, rateLimit: status)))
    static let indexed = Answer.indexed(.success(()))
    static let redriven = Answer.begun(.success(.redrive(lease, rateLimit: nil, earlier: earlier)))

    @Test func aChargeIsCompletedWithTheLedgerChargeAndSucceedsOnceCommitted() throws {
        let (actions, _) = run([Self.acquired, Self.indexed, .charged(.charged(chargeID: "ch_1")), .completed(.success(.committed))])
        guard case .complete(let lease, let response, let charge, let identity) = actions[3] else {
            Issue.record("the fourth step completes: \(actions)")
            return
        }
        #expect(lease == Self.lease && identity == Self.identity)
        #expect(charge == LedgerCharge(paymentID: Self.identity.paymentID, chargeID: "ch_1"))
        #expect(response.status == 200)
        #expect(actions.last == .finish(.succeeded(response, rateLimit: Self.status), abandon: false))
    }

    @Test func aDeclineIsCompletedWithoutALedgerChargeAndIsDeclined() {
        let (actions, _) = run([Self.acquired, Self.indexed, .charged(.declined(code: "card_declined", message: "no")), .completed(.success(.committed))])
        guard case .complete(_, let response, let charge, _) = actions[3] else {
            Issue.record("the fourth step completes: \(actions)")
            return
        }
        #expect(charge == nil)
        #expect(response.status == 402)
        #expect(actions.last == .finish(.declined(response, rateLimit: Self.status), abandon: false))
    }

    @Test func whatCompleteAnsweredIsWhatTheClientIsTold() {
        let charged = Answer.charged(.charged(chargeID: nil))
        #expect(run([Self.acquired, Self.indexed, charged, .completed(.success(.leaseLost))]).actions.last == .finish(.leaseLost, abandon: false))
        #expect(run([Self.acquired, Self.indexed, charged, .completed(.success(.notReplicated(Self.shortfall)))]).actions.last
            == Self.unknown(.notReplicated(Self.shortfall)))
        // A lost reply of complete: it may have committed; the record is kept unknown.
        let lost = run([Self.acquired, Self.indexed, charged, .completed(.failure(Self.failure)), .markedUnknown(true)]).actions
        #expect(Array(lost.suffix(2)) == [Self.markUnknown, Self.unknown(.recordUnconfirmed("connection reset"))])
    }

    @Test func aRefusalAbortsAndSaysWhetherTheKeyWasReleased() {
        let refused = Answer.charged(.failed("401 from the processor"))
        #expect(run([Self.acquired, Self.indexed, refused, .aborted(true)]).actions.suffix(2) == [
            .abort(lease: Self.lease), .finish(.processorFailed("401 from the processor", keyReleased: true), abandon: false),
        ])
        #expect(run([Self.acquired, Self.indexed, refused, .aborted(false)]).actions.last
            == .finish(.processorFailed("401 from the processor", keyReleased: false), abandon: false))
    }

    @Test func aRefusalAfterAnUnknownAttemptIsStillUnknown() {
        let actions = run([Self.redriven, .charged(.failed("401 from the processor")), .aborted(true)]).actions
        #expect(actions.last == Self.unknown(
            .processor("401 from the processor; an earlier attempt's outcome is still unknown", recorded: true), paymentID: "pay_earlier"
        ))
    }

    @Test func anUnknownAnswerIsKeptForTheReconcilerAndSaysWhetherThatWasRecorded() {
        for recorded in [true, false] {
            let actions = run([Self.acquired, Self.indexed, .charged(.unknown("502 from the processor")), .markedUnknown(recorded)]).actions
            #expect(Array(actions.suffix(2)) == [Self.markUnknown, Self.unknown(.processor("502 from the processor", recorded: recorded))])
        }
    }

    @Test func aProcessorStillChargingTheKeyIsInFlightAndThePaymentKeptUnknown() {
        let actions = run([Self.acquired, Self.indexed, .charged(.busy(retryAfterMilliseconds: 600)), .markedUnknown(true)]).actions
        #expect(Array(actions.suffix(2)) == [Self.markUnknown, .finish(.inFlight(retryAfterMilliseconds: 600), abandon: false)])
    }
}

/// The rules of one payment, as a state machine without I/O: every answer of a port
/// (the global bucket, the quorum lock, the store, the processor) goes in, and the next
/// step comes out as an `Action` for the driver to carry out. What each answer means —
/// replay or charge, abort or keep as unknown, which outcome the client gets — is
/// decided here and nowhere else; `PaymentService` only does what it is told.
///
/// Why a machine and not an `async` function: the same rules must run on an event loop
/// with futures (the server's fast path, where a task per payment is the cost we
/// remove) and be tested row by row without Redis, a clock or a processor.
public struct PaymentFlow: Sendable {
    public let request: PaymentRequest
    public let owner: String
    private let settings: PaymentService.Settings
    private let hasGlobalLimiter: Bool
    private let hasKeyLock: Bool
    private var state: State = .idle
    /// True once a quorum lock is taken: it is released before the answer.
    public private(set) var holdsQuorumLock = false

    /// What the driver does next.
    public enum Action: Sendable, Hashable {
        /// Take a token from the bucket all users share; answer with `globalLimitDecided`.
        case acquireGlobalLimit
        /// Take the quorum lock (Redlock mode) for `owner`; answer with `keyLockAnswered`.
        case acquireKeyLock
        /// Run the store's `begin` under `owner`; answer with `begun`.
        case begin
        /// Ask whether the replayed record is on enough replicas; answer with `replayConfirmed`.
        case confirmReplay
        /// Remember which record the payment id names (`GET /payments/{id}`), before the
        /// processor is asked; answer with `indexed`.
        case index(PaymentIdentity)
        /// Ask the processor, keeping the lease (and quorum lock) alive while it works;
        /// answer with `charged`.
        case charge(ProcessorCharge, lease: Lease)
        /// Store the answer (and the ledger charge, if any); answer with `completed`.
        case complete(lease: Lease, response: StoredResponse, charge: LedgerCharge?, identity: PaymentIdentity)
        /// Keep the record as unknown for the retry and the reconciler; answer with `markedUnknown`.
        case markUnknown(lease: Lease, identity: PaymentIdentity, followUp: UnknownFollowUp)
        /// This attempt charged nothing: release the record; answer with `aborted`.
        case abort(lease: Lease)
        /// Answer the client. `abandon`: release, without waiting, any record `owner`
        /// holds (a `begin` whose reply was lost). A held quorum lock is released first.
        case finish(PaymentOutcome, abandon: Bool)
    }

    private enum State: Sendable {
        case idle
        case limiting
        case locking
        case beginning
        case confirmingReplay(StoredResponse, rateLimit: RateLimitStatus?)
        case indexing(Attempt)
        case charging(Attempt)
        case completing(Attempt, StoredResponse, ledgerCharge: Bool)
        /// Marking unknown; then the client gets `then(recorded)`.
        case markingUnknown(Attempt, then: AfterMark)
        case aborting(Attempt, AbortCause)
        case finished
    }

    /// Why an attempt that charged nothing is released.
    private enum AbortCause: Sendable {
        /// The processor refused it.
        case processorFailed(String)
        /// Its payment id could not be indexed: it was never sent.
        case notIndexed(String)
    }

    private enum AfterMark: Sendable {
        case inFlight(retryAfterMilliseconds: Int)
        case processorUnknown(String)
        case recordUnconfirmed(String)
    }

    /// One attempt at the processor under a lease.
    private struct Attempt: Sendable {
        let lease: Lease
        let identity: PaymentIdentity
        /// An earlier attempt's outcome is unknown, so this one's "nothing charged" says
        /// nothing of the payment.
        let redrive: Bool
        let rateLimit: RateLimitStatus?
    }

    public init(request: PaymentRequest, owner: String, settings: PaymentService.Settings, hasGlobalLimiter: Bool, hasKeyLock: Bool) {
        self.request = request
        self.owner = owner
        self.settings = settings
        self.hasGlobalLimiter = hasGlobalLimiter
        self.hasKeyLock = hasKeyLock
    }

    /// The first step. `replicaShortfall`: the key's shard lacks the replicas required.
    /// Checked before anything is taken or charged: a charge that cannot be acknowledged
    /// would be answered 503 after the money moved.
    public mutating func start(replicaShortfall: ReplicaShortfall?) -> Action {
        precondition(isIdle, "a payment flow starts once")
        if let replicaShortfall { return finish(.replicasMissing(replicaShortfall)) }
        if hasGlobalLimiter {
            state = .limiting
            return .acquireGlobalLimit
        }
        return lockOrBegin()
    }

    public mutating func globalLimitDecided(_ decision: Result<RateLimitDecision, PortError>) -> Action {
        switch decision {
        case .success(.limited(let status, let retryAfter)): return finish(.rateLimited(status, retryAfterMilliseconds: retryAfter))
        case .success(.allowed): return lockOrBegin()
        case .failure(let error): return finish(.unavailable("rate limiter: \(error)"))
        }
    }

    public mutating func keyLockAnswered(_ acquisition: KeyLockAcquisition) -> Action {
        switch acquisition {
        case .held(let retryAfter): return finish(.inFlight(retryAfterMilliseconds: retryAfter))
        case .unavailable(let reason): return finish(.unavailable("lock quorum: \(reason)"))
        case .acquired:
            holdsQuorumLock = true
            state = .beginning
            return .begin
        }
    }

    public mutating func begun(_ result: Result<BeginResult, PortError>) -> Action {
        switch result {
        case .failure(let error):
            // `begin` may have run and taken the key with its reply lost: every retry
            // would then get 409 for a whole lease. The owner token is ours alone, so
            // whatever record carries it is released (without holding up the client's 503
            // for a Redis that just failed).
            return finish(.unavailable("begin: \(error)"), abandon: true)
        case .success(.replay(let response, let rateLimit)):
            state = .confirmingReplay(response, rateLimit: rateLimit)
            return .confirmReplay
        case .success(.fingerprintMismatch): return finish(.fingerprintMismatch)
        case .success(.inFlight(let retryAfter)): return finish(.inFlight(retryAfterMilliseconds: retryAfter))
        case .success(.rateLimited(let status, let retryAfter)): return finish(.rateLimited(status, retryAfterMilliseconds: retryAfter))
        case .success(.acquired(let lease, let rateLimit)):
            let identity = PaymentIdentity(for: request, secret: settings.identitySecret)
            state = .indexing(Attempt(lease: lease, identity: identity, redrive: false, rateLimit: rateLimit))
            return .index(identity)
        case .success(.redrive(let lease, let rateLimit, let earlier)):
            // Its id was indexed before its first attempt was sent.
            return charge(Attempt(lease: lease, identity: earlier, redrive: true, rateLimit: rateLimit))
        }
    }

    /// An id the processor is sent can always be looked up: one that could not be indexed
    /// is not sent, and its record is released for the client's retry.
    public mutating func indexed(_ result: Result<Void, PortError>) -> Action {
        guard case .indexing(let attempt) = state else { preconditionFailure("nothing being indexed") }
        switch result {
        case .success:
            return charge(attempt)
        case .failure(let error):
            state = .aborting(attempt, .notIndexed("\(error)"))
            return .abort(lease: attempt.lease)
        }
    }

    /// A stored answer is given again only once it is on the replicas required: a replay
    /// of a write a failover could still lose would be a 200 that does not survive.
    public mutating func replayConfirmed(_ result: Result<ReplayCheck, PortError>) -> Action {
        guard case .confirmingReplay(let response, let rateLimit) = state else { preconditionFailure("no replay to confirm") }
        let cause: UnknownOutcome.Cause
        switch result {
        case .success(.confirmed): return finish(.replayed(response, rateLimit: rateLimit))
        case .success(.notReplicated(let shortfall)): cause = .notReplicated(shortfall)
        case .success(.gone): cause = .recordUnconfirmed("the replayed record is gone")
        case .failure(let error): cause = .recordUnconfirmed("replicas of the replayed record: \(error)")
        }
        // Only here is the payment id needed (the stored body of a replay carries its own):
        // the HMAC stays off the path of every confirmed replay.
        let paymentID = PaymentIdentity(for: request, secret: settings.identitySecret).paymentID
        return finish(.outcomeUnknown(UnknownOutcome(cause, paymentID: paymentID)))
    }

    public mutating func charged(_ result: ProcessorResult) -> Action {
        guard case .charging(let attempt) = state else { preconditionFailure("no charge under way") }
        let response: StoredResponse
        let ledgerCharge: LedgerCharge?
        switch result {
        case .charged(let chargeID):
            (response, ledgerCharge) = PaymentReceipt.completion(of: request, identity: attempt.identity, chargeID: chargeID)
        case .declined(let code, let message):
            let decline = PaymentDecline(paymentID: attempt.identity.paymentID, request: request, code: code, message: message)
            (response, ledgerCharge) = (StoredResponse(status: PaymentDecline.status, body: decline.json), nil)
        case .busy(let retryAfter):
            // Another attempt with this processor key is still at the processor (one whose
            // lease ran out): this one charged nothing, that one may charge. Keep the
            // payment as unknown, lease released: the client's retry, after it, finds the
            // answer, and if no client comes back the reconciler does.
            return markUnknown(attempt, then: .inFlight(retryAfterMilliseconds: retryAfter))
        case .failed(let message):
            // This attempt charged nothing. After a re-drive an earlier one may have: the
            // record goes back to unknown (abort does that) and the answer says unknown.
            state = .aborting(attempt, .processorFailed(message))
            return .abort(lease: attempt.lease)
        case .unknown(let message):
            // It may have charged: the record stays, unknown, for the retry and the reconciler.
            return markUnknown(attempt, then: .processorUnknown(message))
        }
        // No check of a quorum lock's validity here: after the processor answered, the
        // store's owner and fence check decides whether this attempt may record it, not
        // the clock (a charge confirmed by the processor is never thrown away unasked).
        state = .completing(attempt, response, ledgerCharge: ledgerCharge != nil)
        return .complete(lease: attempt.lease, response: response, charge: ledgerCharge, identity: attempt.identity)
    }

    public mutating func completed(_ result: Result<CompleteResult, PortError>) -> Action {
        guard case .completing(let attempt, let response, let charged) = state else { preconditionFailure("no completion under way") }
        switch result {
        case .success(.committed):
            return finish(charged ? .succeeded(response, rateLimit: attempt.rateLimit) : .declined(response, rateLimit: attempt.rateLimit))
        case .success(.notReplicated(let shortfall)):
            return finish(.outcomeUnknown(UnknownOutcome(.notReplicated(shortfall), paymentID: attempt.identity.paymentID)))
        case .success(.leaseLost):
            return finish(.leaseLost)
        case .failure(let error):
            // Unknown whether it committed. If it did not, the record is still ours: make
            // it unknown (a done record is left alone). A retry replays if it committed.
            return markUnknown(attempt, then: .recordUnconfirmed("\(error)"))
        }
    }

    /// `recorded`: the record is kept as unknown; false when that could not be written
    /// (Redis failed, or the lease was lost).
    public mutating func markedUnknown(_ recorded: Bool) -> Action {
        guard case .markingUnknown(let attempt, let then) = state else { preconditionFailure("nothing being marked unknown") }
        let paymentID = attempt.identity.paymentID
        switch then {
        case .inFlight(let retryAfter):
            return finish(.inFlight(retryAfterMilliseconds: retryAfter))
        case .processorUnknown(let message):
            return finish(.outcomeUnknown(UnknownOutcome(.processor(message, recorded: recorded), paymentID: paymentID)))
        case .recordUnconfirmed(let message):
            return finish(.outcomeUnknown(UnknownOutcome(.recordUnconfirmed(message), paymentID: paymentID)))
        }
    }

    /// `released`: the record was deleted or returned to unknown; false when Redis failed
    /// or the lease was gone (the record then expires with its lease).
    public mutating func aborted(_ released: Bool) -> Action {
        guard case .aborting(let attempt, let cause) = state else { preconditionFailure("nothing being aborted") }
        let message: String
        switch cause {
        case .notIndexed(let error): return finish(.unavailable("payment index: \(error)"))
        case .processorFailed(let refusal): message = refusal
        }
        guard !attempt.redrive else {
            let reason = "\(message); an earlier attempt's outcome is still unknown"
            return finish(.outcomeUnknown(UnknownOutcome(.processor(reason, recorded: released), paymentID: attempt.identity.paymentID)))
        }
        return finish(.processorFailed(message, keyReleased: released))
    }

    private var isIdle: Bool {
        if case .idle = state { return true }
        return false
    }

    private mutating func lockOrBegin() -> Action {
        if hasKeyLock {
            state = .locking
            return .acquireKeyLock
        }
        state = .beginning
        return .begin
    }

    private mutating func charge(_ attempt: Attempt) -> Action {
        state = .charging(attempt)
        return .charge(ProcessorCharge(request: request, identity: attempt.identity, fence: attempt.lease.fence), lease: attempt.lease)
    }

    private mutating func markUnknown(_ attempt: Attempt, then: AfterMark) -> Action {
        state = .markingUnknown(attempt, then: then)
        let followUp = UnknownFollowUp.recheck(after: settings.reconcileDelay, attempts: nil)
        return .markUnknown(lease: attempt.lease, identity: attempt.identity, followUp: followUp)
    }

    private mutating func finish(_ outcome: PaymentOutcome, abandon: Bool = false) -> Action {
        state = .finished
        return .finish(outcome, abandon: abandon)
    }
}

/// A port's failure as the flow sees it: its description goes into the outcome's reason.
public struct PortError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String

    public init(_ error: any Error) {
        self.description = "\(error)"
    }

    public init(description: String) {
        self.description = description
    }
}

import Tracing

/// Resolves unknown outcomes by itself: clients give up, and then the processor may hold
/// money our ledger never learns about.
///
/// Every replica runs passes. A pass takes the unknown payments that are due, and for
/// each takes the record under its own lease and fence (so two replicas never work on
/// one, and a client's retry meanwhile gets 409), asks the processor what it holds under
/// the payment's processor key, and commits what it learns:
/// - charged (with our amount and currency): the 200 receipt is stored and the ledger
///   charged in one step, exactly as if the attempt had answered; the client's next
///   retry gets the receipt;
/// - nothing charged: the record is released; the next retry charges;
/// - no answer: back to unknown, looked at again after a back-off; after
///   `maximumAttempts` such lookups it is counted unresolved, for an operator.
/// It never creates a charge: it only reads the processor.
public struct Reconciler: Sendable {
    public struct Settings: Sendable {
        /// How old an unknown must be before it is looked up (`RECONCILE_DELAY_MS`).
        public var delay: Duration
        /// How often a replica looks for due unknowns (`RECONCILE_INTERVAL_MS`); also the
        /// first back-off after a lookup that could not decide.
        public var interval: Duration
        /// Lookups that could not decide before it is unresolved (`RECONCILE_MAX_ATTEMPTS`).
        public var maximumAttempts: Int
        /// The lease of a claim: longer than one lookup can take.
        public var lease: Duration
        /// How long a record is kept (`IDEMPOTENCY_TTL_SECONDS`).
        public var retention: Duration
        /// Records looked at per pass, at most.
        public var batch: Int

        public init(delay: Duration, interval: Duration, maximumAttempts: Int, lease: Duration, retention: Duration, batch: Int = 100) {
            self.delay = delay
            self.interval = interval
            self.maximumAttempts = maximumAttempts
            self.lease = lease
            self.retention = retention
            self.batch = batch
        }

        /// The wait after `attempts` lookups that could not decide: the interval doubled
        /// each time, at most five minutes.
        public func backoff(after attempts: Int) -> Duration {
            let doubled = interval * (1 << min(max(attempts - 1, 0), 16))
            return min(doubled, .seconds(300))
        }
    }

    /// What a pass did, per result (the `result` label of `payment_reconcile_total`).
    public enum Result: String, CaseIterable, Sendable {
        /// The processor holds the charge: receipt stored, ledger charged.
        case charged
        /// The processor holds nothing: the record released.
        case notCharged = "not_charged"
        /// The lookup could not decide: looked at again later.
        case unknown
        /// An attempt holds the record (a client's retry, another replica): later.
        case busy
        /// Nothing left to do (completed by a retry, or expired).
        case settled
        /// Given up after `maximumAttempts`: an operator must look.
        case unresolved
    }

    public let queue: any UnknownPaymentQueue
    public let store: any IdempotencyStore
    public let processor: any PaymentProcessor
    public let settings: Settings
    /// A `reconcile` span per payment looked at, when tracing is on: its Redis scripts
    /// and the processor's lookup are its children.
    public let tracer: (any Tracer)?

    public init(
        queue: any UnknownPaymentQueue, store: any IdempotencyStore, processor: any PaymentProcessor, settings: Settings, tracer: (any Tracer)? = nil
    ) {
        self.queue = queue
        self.store = store
        self.processor = processor
        self.settings = settings
        self.tracer = tracer
    }

    /// One pass over the due unknowns; what happened to each. Throws when the queue
    /// cannot be read.
    public func pass() async throws -> [Result] {
        var results: [Result] = []
        for reference in try await queue.due(limit: settings.batch) {
            results.append(await resolve(reference))
        }
        // Unresolved payments that a client's retry completed since: off the count.
        let settled = try await queue.sweepUnresolved(limit: settings.batch)
        results.append(contentsOf: Array(repeating: .settled, count: settled))
        return results
    }

    /// Resolves one unknown payment as far as the processor lets it, in a span of its own.
    func resolve(_ reference: UnknownPaymentReference) async -> Result {
        guard let tracer else { return await resolve(reference, span: nil) }
        let span = tracer.startSpan("reconcile", context: ServiceContext.current ?? .topLevel, ofKind: .internal)
        let result = await ServiceContext.withValue(span.context) { await resolve(reference, span: span) }
        span.attributes["payment.reconcile_result"] = result.rawValue
        span.addEvent(SpanEvent(name: "reconciled", attributes: ["payment.reconcile_result": .string(result.rawValue)]))
        span.end()
        return result
    }

    private func resolve(_ reference: UnknownPaymentReference, span: (any Span)?) async -> Result {
        let claim: UnknownClaim
        do {
            claim = try await queue.claim(reference, owner: PaymentService.randomToken(), lease: settings.lease, retention: settings.retention)
        } catch {
            return .unknown
        }
        switch claim {
        case .settled:
            try? await queue.remove(reference)
            return .settled
        case .busy:
            try? await queue.reschedule(reference, after: settings.interval)
            return .busy
        case .claimed(let payment):
            // The record is the reconciler's now, under its own lease and fence.
            span?.addEvent("taken over")
            return await resolve(payment)
        }
    }

    private func resolve(_ payment: ClaimedUnknownPayment) async -> Result {
        let request = payment.request
        switch await processor.lookup(processorKey: payment.identity.processorKey) {
        case .charged(let chargeID, let amountMinor, let currency)
            where amountMinor == request.amountMinor && currency == request.currency.code:
            let completion = PaymentReceipt.completion(of: request, identity: payment.identity, chargeID: chargeID)
            do {
                let result = try await store.complete(
                    request, lease: payment.lease, response: completion.response, charge: completion.charge,
                    identity: payment.identity, retention: settings.retention
                )
                // Taken over (its lease ran out): the new holder decides; the queue entry
                // stays, and the next look finds the record settled or unknown.
                guard result != .leaseLost else { return .busy }
                // Committed, or not on enough replicas yet (the record is done on the
                // master; the client's retry confirms it before replaying).
                try? await queue.remove(payment.reference)
                return .charged
            } catch {
                // Unknown whether it committed: look again; a done record is `settled`.
                return await putBack(payment, attempts: payment.attempts)
            }
        case .charged:
            // A charge under our key for another amount or currency: not ours to record.
            return await putBack(payment, attempts: payment.attempts + 1)
        case .notCharged:
            guard (try? await queue.release(payment)) == true else {
                return await putBack(payment, attempts: payment.attempts)
            }
            try? await queue.remove(payment.reference)
            return .notCharged
        case .inProgress:
            return await putBack(payment, attempts: payment.attempts + 1, busy: true)
        case .unknown:
            return await putBack(payment, attempts: payment.attempts + 1)
        }
    }

    /// Back to unknown, released, and looked at again later; unresolved after too many.
    private func putBack(_ payment: ClaimedUnknownPayment, attempts: Int, busy: Bool = false) async -> Result {
        let giveUp = attempts >= settings.maximumAttempts
        let followUp: UnknownFollowUp = giveUp
            ? .unresolved(attempts: attempts)
            : .recheck(after: settings.backoff(after: attempts), attempts: attempts)
        _ = try? await store.markUnknown(
            payment.request, lease: payment.lease, identity: payment.identity, retention: settings.retention, followUp: followUp
        )
        return giveUp ? .unresolved : (busy ? .busy : .unknown)
    }
}

/// Names one unknown payment in the reconciler's queue.
public struct UnknownPaymentReference: Sendable, Hashable {
    public let tenant: Tenant?
    public let userID: UserID
    public let idempotencyKey: IdempotencyKey

    public init(tenant: Tenant?, userID: UserID, idempotencyKey: IdempotencyKey) {
        self.tenant = tenant
        self.userID = userID
        self.idempotencyKey = idempotencyKey
    }

    public init(_ request: PaymentRequest) {
        self.init(tenant: request.tenant, userID: request.userID, idempotencyKey: request.idempotencyKey)
    }
}

/// An unknown payment the reconciler now holds under `lease`.
public struct ClaimedUnknownPayment: Sendable, Hashable {
    public let reference: UnknownPaymentReference
    /// Rebuilt from the record: user, key, tenant, amount and currency.
    public let request: PaymentRequest
    /// As the earlier attempt sent it.
    public let identity: PaymentIdentity
    public let lease: Lease
    /// Lookups that could not decide so far.
    public let attempts: Int

    public init(reference: UnknownPaymentReference, request: PaymentRequest, identity: PaymentIdentity, lease: Lease, attempts: Int) {
        self.reference = reference
        self.request = request
        self.identity = identity
        self.lease = lease
        self.attempts = attempts
    }
}

public enum UnknownClaim: Sendable, Hashable {
    case claimed(ClaimedUnknownPayment)
    /// An attempt holds the record now.
    case busy
    /// Completed or gone: nothing to resolve.
    case settled
}

/// How many unknown payments wait for the reconciler, and how many it gave up on.
public struct UnknownCounts: Sendable, Hashable {
    public let pending: Int
    public let unresolved: Int

    public init(pending: Int, unresolved: Int) {
        self.pending = pending
        self.unresolved = unresolved
    }
}

/// The reconciler's queue of unknown payments, shared by every replica (Redis).
public protocol UnknownPaymentQueue: Sendable {
    /// Unknown payments whose time has come, at most `limit`.
    func due(limit: Int) async throws -> [UnknownPaymentReference]
    /// Takes the payment's record under a new lease and fence if it is unknown (or an
    /// attempt on it lost its holder).
    func claim(_ reference: UnknownPaymentReference, owner: String, lease: Duration, retention: Duration) async throws -> UnknownClaim
    /// The processor holds nothing: deletes the record if the claim's lease holds; true
    /// when it did.
    func release(_ payment: ClaimedUnknownPayment) async throws -> Bool
    /// Looks at it again after `delay`.
    func reschedule(_ reference: UnknownPaymentReference, after delay: Duration) async throws
    /// Off the queue: nothing left to resolve.
    func remove(_ reference: UnknownPaymentReference) async throws
    func counts() async throws -> UnknownCounts
    /// Removes unresolved entries whose record is no longer unknown (a client's retry
    /// settled it, or it expired); how many it removed.
    func sweepUnresolved(limit: Int) async throws -> Int
}

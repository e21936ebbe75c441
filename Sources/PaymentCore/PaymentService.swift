import Foundation
import Synchronization

/// The payment flow: begin → process → complete, or abort on a transient failure.
///
/// It is written against the store, limiter and processor protocols and does no I/O of
/// its own. Exactly once holds because `complete` stores the response and charges the
/// ledger in one atomic step that only the lease holder can take.
public struct PaymentService: Sendable {
    public struct Settings: Sendable {
        /// How long a key stays locked without a watchdog extension (`LOCK_LEASE_MS`).
        public var lease: Duration
        /// How long a completed response is kept for replays (`IDEMPOTENCY_TTL_SECONDS`).
        public var retention: Duration
        /// The per-user bucket, nil when disabled.
        public var userRateLimit: RateLimitPolicy?
        /// Extends the lease every third of it while the processor runs. Only tests turn
        /// it off, to prove that work which outlives its lease cannot commit.
        public var watchdog: Bool
        /// The HMAC key of payment ids and processor keys (`PROCESSOR_KEY_SECRET_FILE`).
        public var identitySecret: PaymentIdentity.Secret
        /// The longest the processor's work may hold the key (the processor's deadline
        /// plus a margin); after it the attempt is given up as unknown and its lease
        /// released. nil: as long as the work runs (the simulated processor).
        public var maximumWork: Duration?
        /// How long after an unknown outcome the reconciler first looks (`RECONCILE_DELAY_MS`).
        public var reconcileDelay: Duration

        public init(
            lease: Duration, retention: Duration, userRateLimit: RateLimitPolicy?, watchdog: Bool = true,
            identitySecret: PaymentIdentity.Secret = .unset, maximumWork: Duration? = nil, reconcileDelay: Duration = .seconds(10)
        ) {
            self.lease = lease
            self.retention = retention
            self.userRateLimit = userRateLimit
            self.watchdog = watchdog
            self.identitySecret = identitySecret
            self.maximumWork = maximumWork
            self.reconcileDelay = reconcileDelay
        }
    }

    public let store: any IdempotencyStore
    public let processor: any PaymentProcessor
    public let globalRateLimiter: (any RateLimiter)?
    /// The quorum lock of Redlock mode, taken before `begin`; nil: the store's lock only.
    public let keyLock: (any KeyLock)?
    /// With replicas required: whether the key's shard has them now; nil: none required.
    public let replicaGate: (any ReplicaGate)?
    public let settings: Settings

    public init(
        store: any IdempotencyStore,
        processor: any PaymentProcessor,
        globalRateLimiter: (any RateLimiter)?,
        keyLock: (any KeyLock)? = nil,
        replicaGate: (any ReplicaGate)? = nil,
        settings: Settings
    ) {
        self.store = store
        self.processor = processor
        self.globalRateLimiter = globalRateLimiter
        self.keyLock = keyLock
        self.replicaGate = replicaGate
        self.settings = settings
    }

    public func pay(_ request: PaymentRequest) async -> PaymentOutcome {
        // Before anything is taken or charged: a charge that cannot be acknowledged would
        // be answered 503 after the money moved.
        if let shortfall = replicaGate?.shortfall(for: request) {
            return .replicasMissing(shortfall)
        }
        if let globalRateLimiter {
            do {
                if case .limited(let status, let retryAfter) = try await globalRateLimiter.acquire() {
                    return .rateLimited(status, retryAfterMilliseconds: retryAfter)
                }
            } catch {
                return .unavailable("rate limiter: \(error)")
            }
        }

        let owner = Self.randomToken()
        guard let keyLock else { return await begin(request, owner: owner, quorumLock: nil) }
        switch await keyLock.acquire(request, owner: owner, ttl: settings.lease) {
        case .held(let retryAfter):
            return .inFlight(retryAfterMilliseconds: retryAfter)
        case .unavailable(let reason):
            return .unavailable("lock quorum: \(reason)")
        case .acquired(let validity):
            let quorumLock = HeldQuorumLock(lock: keyLock, request: request, owner: owner, validity: validity)
            let outcome = await begin(request, owner: owner, quorumLock: quorumLock)
            await keyLock.release(request, owner: owner)
            return outcome
        }
    }

    private func begin(_ request: PaymentRequest, owner: String, quorumLock: HeldQuorumLock?) async -> PaymentOutcome {
        let begun: BeginResult
        do {
            begun = try await store.begin(
                request, owner: owner, lease: settings.lease, retention: settings.retention, rateLimit: settings.userRateLimit
            )
        } catch {
            // `begin` may have run and taken the key with its reply lost: every retry
            // would then get 409 for a whole lease. The owner token is ours alone, so
            // release whatever record carries it. Not awaited: the client's 503 does not
            // wait for a Redis that just failed, and on the same connection the release
            // runs after the `begin` it follows.
            let store = self.store
            Task { try? await store.abandon(request, owner: owner) }
            return .unavailable("begin: \(error)")
        }
        switch begun {
        case .replay(let response, let rateLimit):
            return await replay(request, response: response, rateLimit: rateLimit)
        case .fingerprintMismatch:
            return .fingerprintMismatch
        case .inFlight(let retryAfter):
            return .inFlight(retryAfterMilliseconds: retryAfter)
        case .rateLimited(let status, let retryAfter):
            return .rateLimited(status, retryAfterMilliseconds: retryAfter)
        case .acquired(let lease, let rateLimit):
            let identity = PaymentIdentity(for: request, secret: settings.identitySecret)
            return await execute(request, lease: lease, identity: identity, redrive: false, quorumLock: quorumLock, rateLimit: rateLimit)
        case .redrive(let lease, let rateLimit, let earlier):
            return await execute(request, lease: lease, identity: earlier, redrive: true, quorumLock: quorumLock, rateLimit: rateLimit)
        }
    }

    /// A stored answer is given again only once it is on the replicas required: a replay
    /// of a write a failover could still lose would be a 200 that does not survive.
    private func replay(_ request: PaymentRequest, response: StoredResponse, rateLimit: RateLimitStatus?) async -> PaymentOutcome {
        let cause: UnknownOutcome.Cause
        do {
            switch try await store.confirmReplay(request) {
            case .confirmed: return .replayed(response, rateLimit: rateLimit)
            case .notReplicated(let shortfall): cause = .notReplicated(shortfall)
            case .gone: cause = .recordUnconfirmed("the replayed record is gone")
            }
        } catch {
            cause = .recordUnconfirmed("replicas of the replayed record: \(error)")
        }
        // Only here is the payment id needed (the stored body of a replay carries its own):
        // the HMAC stays off the path of every confirmed replay.
        return .outcomeUnknown(UnknownOutcome(cause, paymentID: PaymentIdentity(for: request, secret: settings.identitySecret).paymentID))
    }

    /// One attempt at the processor under `lease`. `redrive`: an earlier attempt's outcome
    /// is unknown, so this one's "nothing charged" says nothing of the payment.
    private func execute(
        _ request: PaymentRequest, lease: Lease, identity: PaymentIdentity, redrive: Bool, quorumLock: HeldQuorumLock?, rateLimit: RateLimitStatus?
    ) async -> PaymentOutcome {
        let charge = ProcessorCharge(request: request, identity: identity, fence: lease.fence)
        let processor = self.processor
        let result = await withLeaseKept(request, lease: lease, quorumLock: quorumLock) { await processor.charge(charge) }

        let response: StoredResponse
        let ledgerCharge: LedgerCharge?
        switch result {
        case .charged(let chargeID):
            (response, ledgerCharge) = PaymentReceipt.completion(of: request, identity: identity, chargeID: chargeID)
        case .declined(let code, let message):
            let decline = PaymentDecline(paymentID: identity.paymentID, request: request, code: code, message: message)
            (response, ledgerCharge) = (StoredResponse(status: PaymentDecline.status, body: decline.json), nil)
        case .busy(let retryAfter):
            // Another attempt with this processor key is still at the processor (one whose
            // lease ran out): this one charged nothing, that one may charge. Keep the
            // payment as unknown, lease released: the client's retry, after it, finds the
            // answer, and if no client comes back the reconciler does.
            _ = await markUnknown(request, lease: lease, identity: identity)
            return .inFlight(retryAfterMilliseconds: retryAfter)
        case .failed(let message):
            // This attempt charged nothing. After a re-drive an earlier one may have: the
            // record goes back to unknown (abort does that) and the answer says unknown.
            let released = (try? await store.abort(request, lease: lease)) ?? false
            guard !redrive else {
                let reason = "\(message); an earlier attempt's outcome is still unknown"
                return .outcomeUnknown(UnknownOutcome(.processor(reason, recorded: released), paymentID: identity.paymentID))
            }
            // If Redis is gone the record expires with its lease instead, and the answer says so.
            return .processorFailed(message, keyReleased: released)
        case .unknown(let message):
            // It may have charged: the record stays, unknown, for the retry and the reconciler.
            let recorded = await markUnknown(request, lease: lease, identity: identity)
            return .outcomeUnknown(UnknownOutcome(.processor(message, recorded: recorded), paymentID: identity.paymentID))
        }

        // No check of a quorum lock's validity here: after the processor answered, the
        // store's owner and fence check decides whether this attempt may record it, not
        // the clock (a charge confirmed by the processor is never thrown away unasked).
        do {
            switch try await store.complete(
                request, lease: lease, response: response, charge: ledgerCharge, identity: identity, retention: settings.retention
            ) {
            case .committed:
                return ledgerCharge != nil ? .succeeded(response, rateLimit: rateLimit) : .declined(response, rateLimit: rateLimit)
            case .notReplicated(let shortfall):
                return .outcomeUnknown(UnknownOutcome(.notReplicated(shortfall), paymentID: identity.paymentID))
            case .leaseLost:
                return .leaseLost
            }
        } catch {
            // Unknown whether it committed. If it did not, the record is still ours: make
            // it unknown (a done record is left alone). A retry replays if it committed.
            _ = await markUnknown(request, lease: lease, identity: identity)
            return .outcomeUnknown(UnknownOutcome(.recordUnconfirmed("\(error)"), paymentID: identity.paymentID))
        }
    }

    /// Keeps the record as unknown for the retry and the reconciler; false when that
    /// could not be written (Redis failed, or the lease was lost).
    private func markUnknown(_ request: PaymentRequest, lease: Lease, identity: PaymentIdentity) async -> Bool {
        let followUp = UnknownFollowUp.recheck(after: settings.reconcileDelay, attempts: nil)
        return (try? await store.markUnknown(request, lease: lease, identity: identity, retention: settings.retention, followUp: followUp)) ?? false
    }

    /// Runs `work` while a watchdog pushes the lease (and the quorum lock, if any)
    /// forward every third of it, for at most `maximumWork`: then the work is cancelled
    /// and the attempt's answer is unknown, so no processor can hold a key for longer.
    private func withLeaseKept(
        _ request: PaymentRequest, lease: Lease, quorumLock: HeldQuorumLock?, _ work: @escaping @Sendable () async -> ProcessorResult
    ) async -> ProcessorResult {
        let bounded: @Sendable () async -> ProcessorResult
        if let maximumWork = settings.maximumWork {
            bounded = {
                await firstWithin(maximumWork, otherwise: { .unknown("no answer within the work limit of \(maximumWork)") }) { await work() }
            }
        } else {
            bounded = work
        }
        guard settings.watchdog else { return await bounded() }
        let store = self.store
        let leaseDuration = settings.lease
        let watchdog = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: leaseDuration / 3)
                guard !Task.isCancelled else { return }
                // No majority for the quorum lock: stop; the work is given up once it ends.
                if let quorumLock, await !quorumLock.extend(to: leaseDuration) { return }
                // A failed extension is not fatal here: `complete` checks the lease.
                if (try? await store.extend(request, lease: lease, to: leaseDuration)) == false { return }
            }
        }
        defer { watchdog.cancel() }
        return await bounded()
    }

    public static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in generator.next() as UInt64 }.flatMap { word in
            (0..<8).map { UInt8(truncatingIfNeeded: word >> ($0 * 8)) }
        }.hexString
    }

    public static func timestamp() -> String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(Date.now)
    }
}

/// A quorum lock this request holds, and until when it may assume so.
final class HeldQuorumLock: Sendable {
    private let lock: any KeyLock
    private let request: PaymentRequest
    private let owner: String
    private let validUntil: Mutex<ContinuousClock.Instant>

    init(lock: any KeyLock, request: PaymentRequest, owner: String, validity: Duration) {
        self.lock = lock
        self.request = request
        self.owner = owner
        self.validUntil = Mutex(.now + validity)
    }

    /// Extends the lock on a majority; false when that failed (the validity stays as it was).
    func extend(to ttl: Duration) async -> Bool {
        guard let validity = await lock.extend(request, owner: owner, ttl: ttl) else { return false }
        let end = ContinuousClock.now + validity
        validUntil.withLock { $0 = max($0, end) }
        return true
    }
}

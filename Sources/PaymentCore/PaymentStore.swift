/// The ports of the payment flow. Implementations do I/O (Redis); the flow does not.

import NIOCore

/// Proof of holding a key's lock: the random owner token and the fencing token handed
/// out when the lock was taken. A write that carries a stale pair is refused.
///
/// The fence is per idempotency key and grows with every attempt on that key, across
/// lease takeovers, for `IDEMPOTENCY_TTL_SECONDS` after the last one; it starts from
/// Redis's clock in milliseconds, so a counter lost in a failover does not repeat a
/// fence unless the new master's clock is behind. A processor can refuse any charge for
/// a key whose fence is lower than one it already accepted for that key.
public struct Lease: Sendable, Hashable {
    public let owner: String
    public let fence: Int64

    public init(owner: String, fence: Int64) {
        self.owner = owner
        self.fence = fence
    }
}

/// A response kept for replays: the status and the exact bytes of the body.
public struct StoredResponse: Sendable, Hashable {
    public let status: Int
    public let body: [UInt8]

    public init(status: Int, body: [UInt8]) {
        self.status = status
        self.body = body
    }
}

/// A token bucket: `capacity` tokens, refilled at `refillPerSecond`.
public struct RateLimitPolicy: Sendable, Hashable {
    /// The name in `RateLimit-Policy` / `RateLimit` headers and the `scope` metric label.
    public let name: String
    public let capacity: Int
    public let refillPerSecond: Int

    public init(name: String, capacity: Int, refillPerSecond: Int) {
        self.name = name
        self.capacity = capacity
        self.refillPerSecond = refillPerSecond
    }

    /// Seconds for an empty bucket to fill: the window of the `RateLimit-Policy` header.
    public var windowSeconds: Int {
        max(1, (capacity + refillPerSecond - 1) / max(refillPerSecond, 1))
    }
}

/// A bucket's state after a request took (or failed to take) a token.
public struct RateLimitStatus: Sendable, Hashable {
    public let policy: RateLimitPolicy
    public let remaining: Int
    /// Milliseconds until the bucket is full again.
    public let resetMilliseconds: Int

    public init(policy: RateLimitPolicy, remaining: Int, resetMilliseconds: Int) {
        self.policy = policy
        self.remaining = remaining
        self.resetMilliseconds = resetMilliseconds
    }
}

public enum RateLimitDecision: Sendable, Hashable {
    case allowed(RateLimitStatus)
    case limited(RateLimitStatus, retryAfterMilliseconds: Int)
}

/// What `begin` found for a key.
public enum BeginResult: Sendable, Hashable {
    /// The key was free: it is now in flight under this lease.
    case acquired(Lease, rateLimit: RateLimitStatus?)
    /// The key's record was unknown (an earlier attempt may have charged) with the same
    /// fingerprint: it is in flight again under this lease, to be charged again with the
    /// identity the earlier attempt used.
    case redrive(Lease, rateLimit: RateLimitStatus?, earlier: PaymentIdentity)
    /// The key completed earlier with the same fingerprint.
    case replay(StoredResponse, rateLimit: RateLimitStatus?)
    /// The key completed or is in flight with another fingerprint.
    case fingerprintMismatch
    /// Another request holds the key; its lease ends in this many milliseconds.
    case inFlight(retryAfterMilliseconds: Int)
    /// The user's bucket is empty; nothing was read or written.
    case rateLimited(RateLimitStatus, retryAfterMilliseconds: Int)
}

public enum CompleteResult: Sendable, Hashable {
    case committed
    /// Committed on the master, but fewer replicas than required acknowledged it in time
    /// (`REDIS_WAIT_REPLICAS`): a failover now could lose it.
    case notReplicated(ReplicaShortfall)
    /// The lease expired or was taken over: nothing was written.
    case leaseLost
}

/// Whether a replayed record is on as many replicas as required.
public enum ReplayCheck: Sendable, Hashable {
    case confirmed
    case notReplicated(ReplicaShortfall)
    /// The record is no longer there (it expired, or a failover lost it).
    case gone
}

/// How many replicas acknowledged a write, of how many required.
public struct ReplicaShortfall: Sendable, Hashable {
    public let acknowledged: Int
    public let required: Int

    public init(acknowledged: Int, required: Int) {
        self.acknowledged = acknowledged
        self.required = required
    }
}

/// Idempotency records, which are also the per-key locks, and the ledger. Every method
/// is atomic on the store's side; a thrown error means the store could not be reached
/// or answered too late, and the flow fails closed.
public protocol IdempotencyStore: Sendable {
    /// Takes a token from the user's bucket (if `rateLimit` is set), then reads the key's
    /// record and, if there is none, creates it in flight under a new lease whose fence
    /// is above every fence this key had in the last `retention`.
    func begin(_ request: PaymentRequest, owner: String, lease: Duration, retention: Duration, rateLimit: RateLimitPolicy?) async throws -> BeginResult
    /// Stores the response and, with a `charge`, charges the ledger, together, only if
    /// `lease` still holds; nil stores a final answer that charged nothing (a decline).
    /// Either way the payment leaves the user's unknown list. With replicas required,
    /// committed means acknowledged by them too.
    func complete(
        _ request: PaymentRequest, lease: Lease, response: StoredResponse, charge: LedgerCharge?, identity: PaymentIdentity, retention: Duration
    ) async throws -> CompleteResult
    /// The attempt under `lease` may have charged: keeps the record, with its fingerprint
    /// and `identity`, in the unknown state with its lease released, and schedules the
    /// reconciler (`followUp`). False when `lease` no longer holds (nothing changed).
    func markUnknown(
        _ request: PaymentRequest, lease: Lease, identity: PaymentIdentity, retention: Duration, followUp: UnknownFollowUp
    ) async throws -> Bool
    /// Before a replay is answered: is the stored record on as many replicas as required?
    /// A store that requires none answers `.confirmed` without any I/O.
    func confirmReplay(_ request: PaymentRequest) async throws -> ReplayCheck
    /// This attempt charged nothing: deletes the in-flight record if `lease` still holds,
    /// so a retry can run at once, or, when the record was unknown before this attempt,
    /// returns it to unknown; true when it did either.
    @discardableResult
    func abort(_ request: PaymentRequest, lease: Lease) async throws -> Bool
    /// Deletes the in-flight record if `owner` holds it, whatever its fence: for a
    /// `begin` whose reply was lost, when the fence it handed out is unknown.
    func abandon(_ request: PaymentRequest, owner: String) async throws
    /// Pushes the lease's end to `duration` from now; false when the lease was lost.
    func extend(_ request: PaymentRequest, lease: Lease, to duration: Duration) async throws -> Bool
    /// The user's count and totals and the charges in `window`, read at one instant.
    func ledger(for user: UserID, tenant: Tenant?, charges window: ChargeWindow) async throws -> Ledger
    /// Remembers which record `identity`'s payment id names, for `GET /payments/{id}`:
    /// the flow calls it before the processor is asked, so every id that can reach the
    /// processor, an answer or a log line can be looked up. For at least `retention`.
    func index(_ request: PaymentRequest, identity: PaymentIdentity, retention: Duration) async throws
    /// The payment `paymentID` as its record says now, if `tenant` (nil: authentication
    /// off) owns it; nil when no index names it, it names another tenant's payment, or the
    /// record it names is not this id's (`PaymentLookup(paymentID:record:of:secret:)`,
    /// `secret` deriving the id of a first attempt's record, which carries none).
    func lookup(paymentID: String, tenant: Tenant?, secret: PaymentIdentity.Secret) async throws -> PaymentLookup?

    // The payment's steps on an event loop: the same steps, as futures that complete on
    // `eventLoop`. The defaults (PaymentPorts+EventLoop.swift) run the async methods in
    // a task; a store that can answer on the loop itself (Redis) implements these, and
    // its async methods wait for them.
    func begin(
        _ request: PaymentRequest, owner: String, lease: Duration, retention: Duration, rateLimit: RateLimitPolicy?, on eventLoop: any EventLoop
    ) -> EventLoopFuture<BeginResult>
    func complete(
        _ request: PaymentRequest, lease: Lease, response: StoredResponse, charge: LedgerCharge?, identity: PaymentIdentity, retention: Duration,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<CompleteResult>
    func markUnknown(
        _ request: PaymentRequest, lease: Lease, identity: PaymentIdentity, retention: Duration, followUp: UnknownFollowUp, on eventLoop: any EventLoop
    ) -> EventLoopFuture<Bool>
    func confirmReplay(_ request: PaymentRequest, on eventLoop: any EventLoop) -> EventLoopFuture<ReplayCheck>
    func abort(_ request: PaymentRequest, lease: Lease, on eventLoop: any EventLoop) -> EventLoopFuture<Bool>
    func abandon(_ request: PaymentRequest, owner: String, on eventLoop: any EventLoop) -> EventLoopFuture<Void>
    func extend(_ request: PaymentRequest, lease: Lease, to duration: Duration, on eventLoop: any EventLoop) -> EventLoopFuture<Bool>
    func index(_ request: PaymentRequest, identity: PaymentIdentity, retention: Duration, on eventLoop: any EventLoop) -> EventLoopFuture<Void>
}

extension IdempotencyStore {
    /// The count, the totals and the first `ChargeWindow.defaultLimit` charges.
    public func ledger(for user: UserID, tenant: Tenant?) async throws -> Ledger {
        try await ledger(for: user, tenant: tenant, charges: ChargeWindow())
    }
}

/// What `complete` writes to the ledger for a charge.
public struct LedgerCharge: Sendable, Hashable {
    public let paymentID: String
    /// The processor's charge id, already checked (`ProcessorReply.identifier`).
    public let chargeID: String?

    public init(paymentID: String, chargeID: String?) {
        self.paymentID = paymentID
        self.chargeID = chargeID
    }
}

/// When the reconciler looks at an unknown payment next.
public enum UnknownFollowUp: Sendable, Hashable {
    /// After this long; `attempts` lookups could not decide so far (nil: unchanged).
    case recheck(after: Duration, attempts: Int?)
    /// Never by itself: it gave up (`RECONCILE_MAX_ATTEMPTS`); counted as unresolved.
    case unresolved(attempts: Int)
}

/// A bucket shared by all users (the per-user bucket is part of `begin`).
public protocol RateLimiter: Sendable {
    var policy: RateLimitPolicy { get }
    func acquire() async throws -> RateLimitDecision
    /// The same on an event loop (the default runs `acquire()` in a task).
    func acquire(on eventLoop: any EventLoop) -> EventLoopFuture<RateLimitDecision>
}

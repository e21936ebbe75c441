import Foundation
import PaymentCore
import Synchronization

/// The payment store in memory: the same semantics as the Lua scripts of `PaymentScripts`
/// (Sources/PaymentRedis/PaymentScripts.swift) and `RedisIdempotencyStore`, which are its
/// specification, so that `PaymentService` and `Reconciler` can be unit-tested without a
/// redis-server. Each method says which script it mirrors; `StoreContract` checks both
/// stores against the same expectations.
///
/// Every method is one step under one lock, as every script is one atomic step in Redis.
/// Time is the injected clock's (`ManualClock` in tests), in milliseconds, for the leases,
/// the fences, the bucket, the records' expiry and the reconciler's queue alike; a key
/// "expires" when it is next looked at, as Redis's own lazy expiry does.
///
/// Where it cannot be Redis:
/// - there are no replicas: `complete` never answers `.notReplicated`, and
///   `confirmReplay` runs the `confirmReplay` script's check (the record is done) with no
///   replica to wait for. `RedisIdempotencyStore` without replicas required answers
///   `.confirmed` without reading anything, so the contract checks `.confirmed` only after
///   a completion, where both agree;
/// - Redis keeps its clock (`TIME`) for records and the pod's for the queue; here both are
///   the one injected clock;
/// - the store never goes away and never throws (but for a record that does not give back
///   its request in `claim`, which cannot happen here): a test wraps it to fail a step.
public final class InMemoryPaymentStore: IdempotencyStore, UnknownPaymentQueue {
    /// The state of a key's record (the `state` field of `pay:{u}:idem:<key>`).
    public enum Phase: Sendable, Hashable {
        case inFlight
        case unknown
        case done
    }

    /// `claim` found a record that does not give back its request (Redis: a record not
    /// written by us). Never thrown for records this store wrote.
    public struct Inconsistency: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    private let state = Mutex(State())
    private let clock: @Sendable () -> ContinuousClock.Instant
    /// The clock's reading at `init`, and the wall clock's then in ms since 1970: "now" in
    /// ms is the second plus what the first has moved since, so fences and `since` look
    /// like Redis's (ms since 1970) and move only with the injected clock.
    private let origin: ContinuousClock.Instant
    private let originMilliseconds: Int64

    /// `now`: the clock leases, buckets, expiry and the queue read; the real one by default.
    public init(now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.clock = now
        self.origin = now()
        self.originMilliseconds = Int64(Date().timeIntervalSince1970 * 1000)
    }

    /// A store on a clock the test moves (`clock.advance(by:)`).
    public convenience init(clock: ManualClock) {
        self.init(now: { clock.now })
    }

    /// The state of the request's record now, nil when there is none (never written,
    /// deleted, or expired): for tests that look behind the protocol.
    public func phase(of request: PaymentRequest) -> Phase? {
        let now = nowMilliseconds()
        return state.withLock { $0.liveRecord(RecordKey(request), now: now)?.phase }
    }

    // MARK: IdempotencyStore

    /// `PaymentScripts.begin`.
    public func begin(
        _ request: PaymentRequest, owner: String, lease: Duration, retention: Duration, rateLimit: RateLimitPolicy?
    ) async throws -> BeginResult {
        let now = nowMilliseconds()
        let leaseMilliseconds = Self.ceilingMilliseconds(lease)
        let fenceRetention = Self.retentionSeconds(retention, atLeastOne: true)
        return state.withLock {
            $0.begin(request, owner: owner, leaseMilliseconds: leaseMilliseconds, fenceRetention: fenceRetention, rateLimit: rateLimit, now: now)
        }
    }

    /// `PaymentScripts.complete`; never `.notReplicated` (no replicas).
    public func complete(
        _ request: PaymentRequest, lease: Lease, response: StoredResponse, charge: LedgerCharge?, identity: PaymentIdentity, retention: Duration
    ) async throws -> CompleteResult {
        let now = nowMilliseconds()
        // As `RedisIdempotencyStore.complete`: the whole seconds, not at least one.
        let keep = Self.retentionSeconds(retention, atLeastOne: false)
        return state.withLock {
            $0.complete(request, lease: lease, response: response, charge: charge, identity: identity, retentionSeconds: keep, now: now)
        }
    }

    /// `RedisIdempotencyStore.markUnknown`: the reconciler's queue first (whether or not
    /// the lease holds, as there), then `PaymentScripts.markUnknown`.
    public func markUnknown(
        _ request: PaymentRequest, lease: Lease, identity: PaymentIdentity, retention: Duration, followUp: UnknownFollowUp
    ) async throws -> Bool {
        let now = nowMilliseconds()
        let keep = Self.retentionSeconds(retention, atLeastOne: true)
        return state.withLock { state in
            let attempts: Int?
            switch followUp {
            case .recheck(let after, let count):
                attempts = count
                state.schedule(RecordKey(request), at: now + Self.ceilingMilliseconds(after))
            case .unresolved(let count):
                attempts = count
                state.giveUp(RecordKey(request), now: now)
            }
            return state.markUnknown(request, lease: lease, identity: identity, retentionSeconds: keep, attempts: attempts, now: now)
        }
    }

    /// `PaymentScripts.confirmReplay`'s check, with no replicas to wait for: `.confirmed`
    /// while the record is done, `.gone` once it is not there.
    public func confirmReplay(_ request: PaymentRequest) async throws -> ReplayCheck {
        let now = nowMilliseconds()
        return state.withLock { $0.liveRecord(RecordKey(request), now: now)?.phase == .done ? .confirmed : .gone }
    }

    /// `PaymentScripts.abort` with the lease's fence.
    @discardableResult
    public func abort(_ request: PaymentRequest, lease: Lease) async throws -> Bool {
        let now = nowMilliseconds()
        return state.withLock { $0.abort(RecordKey(request), owner: lease.owner, fence: lease.fence, now: now) }
    }

    /// `PaymentScripts.abort` with no fence (ARGV[2] ''): the owner alone names the record.
    public func abandon(_ request: PaymentRequest, owner: String) async throws {
        let now = nowMilliseconds()
        state.withLock { _ = $0.abort(RecordKey(request), owner: owner, fence: nil, now: now) }
    }

    /// `PaymentScripts.extend`.
    public func extend(_ request: PaymentRequest, lease: Lease, to duration: Duration) async throws -> Bool {
        let now = nowMilliseconds()
        let milliseconds = Self.ceilingMilliseconds(duration)
        return state.withLock { $0.extend(RecordKey(request), lease: lease, milliseconds: milliseconds, now: now) }
    }

    /// `LedgerScript.read` (RedisIdempotencyStore+Ledger.swift).
    public func ledger(for user: UserID, tenant: Tenant?, charges window: ChargeWindow) async throws -> Ledger {
        let now = nowMilliseconds()
        return state.withLock { $0.ledger(UserKey(tenant: tenant, userID: user), window: window, now: now) }
    }

    /// `SET pay:pid:<id> … EX <2 × retention>` (RedisIdempotencyStore+Lookup.swift).
    public func index(_ request: PaymentRequest, identity: PaymentIdentity, retention: Duration) async throws {
        let now = nowMilliseconds()
        let seconds = 2 * Self.retentionSeconds(retention, atLeastOne: true)
        state.withLock { $0.index(identity, of: request, retentionSeconds: seconds, now: now) }
    }

    /// GET of `pay:pid:<id>`, its tenant checked, then HMGET of the record it names
    /// (RedisIdempotencyStore+Lookup.swift).
    public func lookup(paymentID: String, tenant: Tenant?, secret: PaymentIdentity.Secret) async throws -> PaymentLookup? {
        let now = nowMilliseconds()
        return state.withLock { $0.lookup(paymentID, tenant: tenant, secret: secret, now: now) }
    }

    // MARK: UnknownPaymentQueue (RedisIdempotencyStore+Reconcile.swift)

    /// ZRANGEBYSCORE of the reconciler's queue up to now.
    public func due(limit: Int) async throws -> [UnknownPaymentReference] {
        let now = nowMilliseconds()
        return state.withLock { state in
            Self.ordered(state.reconcileQueue).filter { $0.score <= now }.prefix(max(limit, 0)).map { $0.reference }
        }
    }

    /// `PaymentScripts.claim`, then the request rebuilt from the record and checked
    /// against its fingerprint, as `RedisIdempotencyStore.claim` does.
    public func claim(_ reference: UnknownPaymentReference, owner: String, lease: Duration, retention: Duration) async throws -> UnknownClaim {
        let now = nowMilliseconds()
        let leaseMilliseconds = Self.ceilingMilliseconds(lease)
        let fenceRetention = Self.retentionSeconds(retention, atLeastOne: true)
        return try state.withLock {
            $0.claim(reference, owner: owner, leaseMilliseconds: leaseMilliseconds, fenceRetention: fenceRetention, now: now)
        }.get()
    }

    /// `PaymentScripts.release`.
    public func release(_ payment: ClaimedUnknownPayment) async throws -> Bool {
        let now = nowMilliseconds()
        return state.withLock { $0.release(payment, now: now) }
    }

    /// ZADD to the reconciler's queue, due after `delay`.
    public func reschedule(_ reference: UnknownPaymentReference, after delay: Duration) async throws {
        let now = nowMilliseconds()
        state.withLock { $0.schedule(reference, at: now + Self.ceilingMilliseconds(delay)) }
    }

    /// ZREM from both queues.
    public func remove(_ reference: UnknownPaymentReference) async throws {
        state.withLock { state in
            state.reconcileQueue[reference] = nil
            state.unresolvedQueue[reference] = nil
        }
    }

    /// ZCARD of both queues.
    public func counts() async throws -> UnknownCounts {
        state.withLock { UnknownCounts(pending: $0.reconcileQueue.count, unresolved: $0.unresolvedQueue.count) }
    }

    /// The first `limit` unresolved entries; those whose record is neither unknown nor in
    /// flight are removed.
    public func sweepUnresolved(limit: Int) async throws -> Int {
        let now = nowMilliseconds()
        return state.withLock { state in
            var removed = 0
            for entry in Self.ordered(state.unresolvedQueue).prefix(max(limit, 0)) {
                let phase = state.liveRecord(entry.reference, now: now)?.phase
                if phase == .unknown || phase == .inFlight { continue }
                state.unresolvedQueue[entry.reference] = nil
                removed += 1
            }
            return removed
        }
    }

    // MARK: Time

    private func nowMilliseconds() -> Int64 {
        let (seconds, attoseconds) = (clock() - origin).components
        return originMilliseconds + seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Whole milliseconds rounded up, as `Duration.milliseconds` in PaymentRedis: a lease
    /// is never shorter than asked.
    static func ceilingMilliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    }

    /// The retention in whole seconds, as `RedisIdempotencyStore` sends it.
    static func retentionSeconds(_ retention: Duration, atLeastOne: Bool) -> Int64 {
        atLeastOne ? max(1, retention.components.seconds) : retention.components.seconds
    }

    /// A sorted set's order: by score, then by member (the queue member's text,
    /// "<tenant>\0<user>\0<key>", as Redis compares it).
    static func ordered(_ queue: [UnknownPaymentReference: Int64]) -> [(reference: UnknownPaymentReference, score: Int64)] {
        queue.map { (reference: $0.key, score: $0.value) }.sorted { a, b in
            a.score != b.score ? a.score < b.score : queueMember(a.reference) < queueMember(b.reference)
        }
    }

    static func queueMember(_ reference: UnknownPaymentReference) -> String {
        "\(reference.tenant?.name ?? "")\u{0}\(reference.userID.value)\u{0}\(reference.idempotencyKey.value)"
    }
}

// MARK: - The keys

/// A record, its fence and its queue entry are per (tenant, user, idempotency key): what
/// `UnknownPaymentReference` names.
private typealias RecordKey = UnknownPaymentReference

/// The bucket, the ledger and the unknown payments are per (tenant, user).
private struct UserKey: Hashable {
    let tenant: Tenant?
    let userID: UserID

    init(tenant: Tenant?, userID: UserID) {
        self.tenant = tenant
        self.userID = userID
    }

    init(_ request: PaymentRequest) {
        self.init(tenant: request.tenant, userID: request.userID)
    }
}

/// A member of `pay:{u}:unknown`: "<payment id> <key>".
private struct UnknownEntry: Hashable {
    let paymentID: String
    let idempotencyKey: String

    var member: String { "\(paymentID) \(idempotencyKey)" }
}

// MARK: - The state

/// `pay:{u}:idem:<key>`.
private struct Record {
    var phase: InMemoryPaymentStore.Phase
    /// `fp`.
    var fingerprint: String
    /// `owner` and `fence`: who holds it while in flight.
    var owner: String?
    var fence: Int64
    /// `until`: the lease's end (ms) while in flight again after being unknown; nil while
    /// the lease is the record's own expiry.
    var leaseEnd: Int64?
    /// The key's TTL, as the time (ms) it is gone at.
    var expiresAt: Int64
    /// `status` and `body`, once done.
    var response: StoredResponse?
    /// `amount` and `cur`: written by begin (a new record) and by markUnknown.
    var amountMinor: Int64
    var currencyCode: String
    /// `pk` and `pid`: the identity the reconciler asks under, once unknown.
    var identity: PaymentIdentity?
    /// `created` (begin, a new record) and `updated` (complete, markUnknown), ms.
    var created: Int64
    var updated: Int64?
    /// `since` (ms): when it first became unknown; abort returns a record that has it to
    /// unknown instead of deleting it.
    var since: Int64?
    /// `attempts`: the reconciler's lookups that could not decide.
    var attempts: Int?

    /// Out of flight: no holder, no `until`.
    mutating func releaseLease() {
        owner = nil
        leaseEnd = nil
    }
}

/// `pay:{u}:bucket`: milli-tokens, so refill is integer arithmetic.
private struct Bucket {
    var milliTokens: Int64
    var updatedAt: Int64
    var expiresAt: Int64
}

/// `pay:{u}:fence:<key>`.
private struct Fence {
    var value: Int64
    var expiresAt: Int64
}

/// `pay:{u}:ledger`, `pay:{u}:charges` and `pay:{u}:unknown`.
private struct Account {
    var payments = 0
    var totals: [String: Int64] = [:]
    var charges: [Charge] = []
    /// Scored by `since`.
    var unknown: [UnknownEntry: Int64] = [:]
    /// The unknown set's TTL (set by markUnknown); nil: none, as for an empty set.
    var unknownExpiresAt: Int64?

    mutating func removeUnknown(_ entry: UnknownEntry) {
        unknown[entry] = nil
        // ZREM of the last member deletes the key, and its TTL with it.
        if unknown.isEmpty { unknownExpiresAt = nil }
    }
}

private struct State {
    var records: [RecordKey: Record] = [:]
    var fences: [RecordKey: Fence] = [:]
    var buckets: [UserKey: Bucket] = [:]
    var accounts: [UserKey: Account] = [:]
    /// `pay:reconcile` and `pay:reconcile:unresolved`: when each entry is due (ms).
    var reconcileQueue: [RecordKey: Int64] = [:]
    var unresolvedQueue: [RecordKey: Int64] = [:]
    /// `pay:pid:<id>`: the record a payment id names, and when the entry expires (ms).
    var paymentIndex: [String: (reference: RecordKey, expiresAt: Int64)] = [:]

    // MARK: Expiry

    /// The record, or nil when there is none or it has expired (then it is dropped).
    mutating func liveRecord(_ key: RecordKey, now: Int64) -> Record? {
        guard let record = records[key] else { return nil }
        guard record.expiresAt > now else {
            records[key] = nil
            return nil
        }
        return record
    }

    /// The user's account, with its unknown set emptied if that expired.
    mutating func liveAccount(_ user: UserKey, now: Int64) -> Account {
        var account = accounts[user] ?? Account()
        if let end = account.unknownExpiresAt, end <= now {
            account.unknown = [:]
            account.unknownExpiresAt = nil
        }
        return account
    }

    // MARK: Shared functions of the scripts

    /// `holds`: in flight under this owner and fence, and its `until` (if any) not passed.
    static func holds(_ record: Record, owner: String, fence: Int64, now: Int64) -> Bool {
        guard record.phase == .inFlight, record.owner == owner, record.fence == fence else { return false }
        guard let end = record.leaseEnd else { return true }
        return end > now
    }

    /// The key's record while `lease` holds it (`if not holds(...) then return 0 end`).
    mutating func heldRecord(_ key: RecordKey, lease: Lease, now: Int64) -> Record? {
        guard let record = liveRecord(key, now: now), Self.holds(record, owner: lease.owner, fence: lease.fence, now: now) else {
            return nil
        }
        return record
    }

    /// Takes `record` in flight again under a new lease and fence, `until` its end: a
    /// re-drive in `begin`, a claim in `claim`.
    mutating func retake(_ record: inout Record, _ key: RecordKey, owner: String, leaseMilliseconds: Int64, fenceRetention: Int64, now: Int64) -> Lease {
        let fence = nextFence(key, retentionSeconds: fenceRetention, now: now)
        record.phase = .inFlight
        record.owner = owner
        record.fence = fence
        record.leaseEnd = now + leaseMilliseconds
        records[key] = record
        return Lease(owner: owner, fence: fence)
    }

    /// `next_fence`: above the key's last fence and the clock in ms; kept for the retention.
    mutating func nextFence(_ key: RecordKey, retentionSeconds: Int64, now: Int64) -> Int64 {
        var last: Int64 = 0
        if let fence = fences[key], fence.expiresAt > now { last = fence.value }
        let fence = max(last + 1, now)
        fences[key] = Fence(value: fence, expiresAt: now + retentionSeconds * 1000)
        return fence
    }

    /// `take_token`: (allowed, whole tokens left, retry after ms, reset ms). A refused
    /// request writes nothing; the bucket expires once it would be full.
    mutating func takeToken(_ user: UserKey, capacity: Int64, refillPerSecond: Int64, now: Int64) -> (allowed: Bool, left: Int, retryAfter: Int, reset: Int) {
        let full = capacity * 1000
        // Lua divides by the refill; a policy with none would divide by zero there.
        let rate = max(refillPerSecond, 1)
        func ceilingDivision(_ value: Int64) -> Int64 { (value + rate - 1) / rate }
        var tokens = full
        if let bucket = buckets[user], bucket.expiresAt > now {
            let elapsed = max(0, now - bucket.updatedAt)
            tokens = min(full, bucket.milliTokens + elapsed * refillPerSecond)
        }
        if tokens < 1000 {
            return (false, 0, Int(ceilingDivision(1000 - tokens)), Int(ceilingDivision(full - tokens)))
        }
        tokens -= 1000
        let reset = ceilingDivision(full - tokens)
        buckets[user] = Bucket(milliTokens: tokens, updatedAt: now, expiresAt: now + max(1, reset))
        return (true, Int(tokens / 1000), 0, Int(reset))
    }

    // MARK: The scripts

    /// `begin`: the bucket, then the record: replay, mismatch, in flight, a re-drive of an
    /// unknown (or of a re-drive whose holder is gone), or a new record in flight.
    mutating func begin(
        _ request: PaymentRequest, owner: String, leaseMilliseconds: Int64, fenceRetention: Int64, rateLimit: RateLimitPolicy?, now: Int64
    ) -> BeginResult {
        var status: RateLimitStatus?
        if let rateLimit, rateLimit.capacity > 0 {
            let taken = takeToken(
                UserKey(request), capacity: Int64(rateLimit.capacity), refillPerSecond: Int64(rateLimit.refillPerSecond), now: now
            )
            guard taken.allowed else {
                let limited = RateLimitStatus(policy: rateLimit, remaining: 0, resetMilliseconds: taken.reset)
                return .rateLimited(limited, retryAfterMilliseconds: taken.retryAfter)
            }
            status = RateLimitStatus(policy: rateLimit, remaining: taken.left, resetMilliseconds: taken.reset)
        }

        let key = RecordKey(request)
        guard var record = liveRecord(key, now: now) else {
            // A free key: in flight under a new lease; the lease is the record's expiry.
            let fence = nextFence(key, retentionSeconds: fenceRetention, now: now)
            records[key] = Record(
                phase: .inFlight, fingerprint: request.fingerprint, owner: owner, fence: fence, leaseEnd: nil,
                expiresAt: now + leaseMilliseconds, response: nil, amountMinor: request.amountMinor, currencyCode: request.currency.code,
                identity: nil, created: now, updated: nil, since: nil, attempts: nil
            )
            return .acquired(Lease(owner: owner, fence: fence), rateLimit: status)
        }
        guard record.fingerprint == request.fingerprint else { return .fingerprintMismatch }
        if record.phase == .done {
            return .replay(record.response ?? StoredResponse(status: 0, body: []), rateLimit: status)
        }
        if record.phase == .inFlight {
            guard let end = record.leaseEnd else {
                return .inFlight(retryAfterMilliseconds: Int(max(record.expiresAt - now, 1)))
            }
            if end > now { return .inFlight(retryAfterMilliseconds: Int(end - now)) }
        }
        // Unknown, or a re-drive whose holder is gone: drive it again. The record keeps
        // its retention; the lease is `until`.
        let lease = retake(&record, key, owner: owner, leaseMilliseconds: leaseMilliseconds, fenceRetention: fenceRetention, now: now)
        guard let earlier = record.identity else { return .acquired(lease, rateLimit: status) }
        return .redrive(lease, rateLimit: status, earlier: earlier)
    }

    /// `complete`: done with the response, off the user's unknown set, and with a payment
    /// id the ledger charged, together; only while the lease holds.
    mutating func complete(
        _ request: PaymentRequest, lease: Lease, response: StoredResponse, charge: LedgerCharge?, identity: PaymentIdentity,
        retentionSeconds: Int64, now: Int64
    ) -> CompleteResult {
        let key = RecordKey(request)
        guard var record = heldRecord(key, lease: lease, now: now) else { return .leaseLost }
        record.phase = .done
        record.response = response
        record.updated = now
        record.releaseLease()
        record.expiresAt = now + retentionSeconds * 1000
        records[key] = record

        let user = UserKey(request)
        var account = liveAccount(user, now: now)
        account.removeUnknown(UnknownEntry(paymentID: identity.paymentID, idempotencyKey: request.idempotencyKey.value))
        // An empty payment id is the script's "no charge" (ARGV[8] '').
        if let charge, !charge.paymentID.isEmpty {
            account.payments += 1
            account.totals[request.currency.code, default: 0] += request.amountMinor
            account.charges.append(Charge(
                paymentID: charge.paymentID, idempotencyKey: request.idempotencyKey.value, amountMinor: request.amountMinor,
                currency: request.currency.code, chargeID: charge.chargeID.flatMap { $0.isEmpty ? nil : $0 }
            ))
        }
        accounts[user] = account
        return .committed
    }

    /// `markUnknown`: the record stays, unknown, lease released, for the retention, with
    /// what the reconciler needs; the user's unknown set lists it (scored by `since`).
    mutating func markUnknown(
        _ request: PaymentRequest, lease: Lease, identity: PaymentIdentity, retentionSeconds: Int64, attempts: Int?, now: Int64
    ) -> Bool {
        let key = RecordKey(request)
        guard var record = heldRecord(key, lease: lease, now: now) else { return false }
        record.phase = .unknown
        record.identity = identity
        record.amountMinor = request.amountMinor
        record.currencyCode = request.currency.code
        record.updated = now
        let since = record.since ?? now
        record.since = since
        if let attempts { record.attempts = attempts }
        record.releaseLease()
        record.expiresAt = now + retentionSeconds * 1000
        records[key] = record

        let user = UserKey(request)
        var account = liveAccount(user, now: now)
        let entry = UnknownEntry(paymentID: identity.paymentID, idempotencyKey: request.idempotencyKey.value)
        if account.unknown[entry] == nil { account.unknown[entry] = since } // ZADD NX
        account.unknownExpiresAt = now + retentionSeconds * 1000
        accounts[user] = account
        return true
    }

    /// `abort`: with a fence, only while the lease holds; without one (a lost `begin`'s
    /// release), whenever `owner` holds it in flight. A record that was unknown before
    /// goes back to unknown; any other is deleted.
    mutating func abort(_ key: RecordKey, owner: String, fence: Int64?, now: Int64) -> Bool {
        guard var record = liveRecord(key, now: now), record.phase == .inFlight, record.owner == owner else { return false }
        if let fence, !Self.holds(record, owner: owner, fence: fence, now: now) { return false }
        if record.since != nil {
            record.phase = .unknown
            record.releaseLease()
            records[key] = record
        } else {
            records[key] = nil
        }
        return true
    }

    /// `extend`: `until` when the record has one, else the record's expiry.
    mutating func extend(_ key: RecordKey, lease: Lease, milliseconds: Int64, now: Int64) -> Bool {
        guard var record = heldRecord(key, lease: lease, now: now) else { return false }
        if record.leaseEnd != nil {
            record.leaseEnd = now + milliseconds
        } else {
            record.expiresAt = now + milliseconds
        }
        records[key] = record
        return true
    }

    /// `LedgerScript.read`: the count and totals, LRANGE of the window, the list's length,
    /// and the first `ChargeWindow.maximumLimit` unknown payments, oldest first.
    mutating func ledger(_ user: UserKey, window: ChargeWindow, now: Int64) -> Ledger {
        let account = liveAccount(user, now: now)
        let count = account.charges.count
        let charges = window.offset < count ? Array(account.charges[window.offset...min(window.lastIndex, count - 1)]) : []
        let unknown = account.unknown
            .map { (entry: $0.key, since: $0.value) }
            .sorted { a, b in a.since != b.since ? a.since < b.since : a.entry.member < b.entry.member }
            .prefix(ChargeWindow.maximumLimit)
            .map { UnknownPayment(paymentID: $0.entry.paymentID, idempotencyKey: $0.entry.idempotencyKey, sinceMilliseconds: $0.since) }
        return Ledger(
            userID: user.userID, payments: account.payments, totals: account.totals, chargesTotal: count, charges: charges, unknown: unknown
        )
    }

    /// `claim`: an unknown record (or one in flight whose `until` passed) is taken under a
    /// new lease and fence; one an attempt holds is busy; done or gone is settled.
    mutating func claim(
        _ reference: UnknownPaymentReference, owner: String, leaseMilliseconds: Int64, fenceRetention: Int64, now: Int64
    ) -> Result<UnknownClaim, InMemoryPaymentStore.Inconsistency> {
        guard var record = liveRecord(reference, now: now), record.phase != .done else { return .success(.settled) }
        if record.phase == .inFlight {
            guard let end = record.leaseEnd, end <= now else { return .success(.busy) }
        }
        guard let identity = record.identity else { return .success(.settled) }
        let lease = retake(&record, reference, owner: owner, leaseMilliseconds: leaseMilliseconds, fenceRetention: fenceRetention, now: now)

        guard let currency = Currency(code: record.currencyCode) else {
            return .failure(.init(description: "claim: the record's currency \(record.currencyCode) is not one we accept"))
        }
        let request = PaymentRequest(
            userID: reference.userID, amountMinor: record.amountMinor, currency: currency, idempotencyKey: reference.idempotencyKey,
            tenant: reference.tenant
        )
        guard request.fingerprint == record.fingerprint else {
            return .failure(.init(description: "claim: the record's amount and currency do not give back its fingerprint"))
        }
        return .success(.claimed(ClaimedUnknownPayment(
            reference: reference, request: request, identity: identity, lease: lease,
            attempts: record.attempts ?? 0
        )))
    }

    /// `release`: the record goes while the claim's lease holds, and leaves the user's
    /// unknown set.
    mutating func release(_ payment: ClaimedUnknownPayment, now: Int64) -> Bool {
        let request = payment.request
        let key = RecordKey(request)
        guard heldRecord(key, lease: payment.lease, now: now) != nil else { return false }
        records[key] = nil
        let user = UserKey(request)
        var account = liveAccount(user, now: now)
        account.removeUnknown(UnknownEntry(paymentID: payment.identity.paymentID, idempotencyKey: request.idempotencyKey.value))
        accounts[user] = account
        return true
    }

    /// SET of `pay:pid:<id>` with the retention as its TTL (a new entry replaces the old).
    mutating func index(_ identity: PaymentIdentity, of request: PaymentRequest, retentionSeconds: Int64, now: Int64) {
        paymentIndex[identity.paymentID] = (RecordKey(request), now + retentionSeconds * 1000)
    }

    /// The index entry (live, and the caller's tenant's), then the record it names, read
    /// as HMGET reads it, and `PaymentLookup(paymentID:record:)` decides.
    mutating func lookup(_ paymentID: String, tenant: Tenant?, secret: PaymentIdentity.Secret, now: Int64) -> PaymentLookup? {
        guard let entry = paymentIndex[paymentID] else { return nil }
        guard entry.expiresAt > now else {
            paymentIndex[paymentID] = nil
            return nil
        }
        guard entry.reference.tenant == tenant, let record = liveRecord(entry.reference, now: now) else { return nil }
        let state: String
        switch record.phase {
        case .inFlight: state = "inflight"
        case .unknown: state = "unknown"
        case .done: state = "done"
        }
        let fields = PaymentRecordFields(
            state: state, paymentID: record.identity?.paymentID, amountMinor: record.amountMinor, currency: record.currencyCode,
            status: record.response?.status, body: record.response?.body, created: record.created, updated: record.updated
        )
        return PaymentLookup(paymentID: paymentID, record: fields, of: entry.reference, secret: secret)
    }

    /// ZADD to `pay:reconcile` (a new score replaces the old one).
    mutating func schedule(_ key: RecordKey, at due: Int64) {
        reconcileQueue[key] = due
    }

    /// To `pay:reconcile:unresolved`, due now, and off `pay:reconcile`.
    mutating func giveUp(_ key: RecordKey, now: Int64) {
        unresolvedQueue[key] = now
        reconcileQueue[key] = nil
    }
}

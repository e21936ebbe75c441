import PaymentCore
import Testing

/// What every payment store must do, as checks that run against any of them:
/// `InMemoryPaymentStore` (PaymentCoreTests) and `RedisIdempotencyStore` on a real
/// redis-server (PaymentRedisTests). The Lua scripts of `PaymentScripts` are the
/// specification; a check states only what both stores honour.
///
/// Each check makes users of its own (`freshUser`), so checks can share a server. The
/// queue checks read the reconciler's queue counts, which are one per store: each check
/// needs a store of its own there (a fresh `InMemoryPaymentStore`, or a Redis key prefix
/// of its own).
public enum StoreContract {
    /// The store under test and how time passes for it.
    public struct Subject: Sendable {
        public let store: any IdempotencyStore & UnknownPaymentQueue
        /// Lets `duration` pass for the store: a `ManualClock` moves, a real server is
        /// waited for (`Task.sleep`).
        public let advance: @Sendable (Duration) async throws -> Void

        public init(store: any IdempotencyStore & UnknownPaymentQueue, advance: @escaping @Sendable (Duration) async throws -> Void) {
            self.store = store
            self.advance = advance
        }
    }

    public typealias Check = @Sendable (Subject) async throws -> Void

    /// Every check, by name.
    public static let all: [(name: String, check: Check)] = [
        ("a free key is acquired", { try await aFreeKeyIsAcquired($0.store) }),
        ("a held key is in flight for at most the lease", { try await aHeldKeyIsInFlightForAtMostTheLease($0.store) }),
        ("a completed key replays the stored bytes", { try await aCompletedKeyReplaysTheStoredBytes($0.store) }),
        ("another fingerprint is a mismatch, in flight and done", { try await anotherFingerprintIsAMismatch($0.store) }),
        ("a stale lease cannot complete and writes nothing", { try await aStaleLeaseCannotComplete($0.store) }),
        ("a done key cannot be completed again", { try await aDoneKeyCannotBeCompletedAgain($0.store) }),
        ("abort frees the key", { try await abortFreesTheKey($0.store) }),
        ("abandon releases only the owner's record", { try await abandonReleasesOnlyTheOwnersRecord($0.store) }),
        ("fences grow across aborts and takeovers", { try await fencesGrow($0) }),
        ("a lease that ran out is taken over", { try await aLeaseThatRanOutIsTakenOver($0) }),
        ("extend needs the lease and keeps the key", { try await extendNeedsTheLease($0) }),
        ("an unknown record is kept and re-driven with the earlier identity", { try await anUnknownRecordIsRedriven($0) }),
        ("aborting a re-drive returns the record to unknown", { try await abortingARedriveKeepsItUnknown($0.store) }),
        ("the user's bucket limits begin", { try await theUsersBucketLimits($0) }),
        ("the ledger counts and totals what completed", { try await theLedgerCountsCompletions($0.store) }),
        ("tenants share no keys and no ledgers", { try await tenantsShareNothing($0.store) }),
        ("the reconciler claims an unknown record and releases it", { try await theReconcilerClaimsAndReleases($0.store) }),
        ("an unresolved payment is counted until it settles", { try await anUnresolvedPaymentIsCountedUntilItSettles($0.store) }),
        ("a payment is found by its id once unknown, re-driven and charged", { try await aPaymentIsFoundByItsIDThroughItsLife($0.store) }),
        ("a declined payment is found with its stored answer", { try await aDeclinedPaymentIsFoundWithItsStoredAnswer($0.store) }),
        ("a payment id is found only by its own tenant", { try await aPaymentIDIsFoundOnlyByItsTenant($0.store) }),
        ("an id whose key was released and used again is not found", { try await anIDWhoseKeyWasUsedAgainIsNotFound($0.store) }),
    ]

    public static var names: [String] { all.map { $0.name } }

    /// Runs the check named `name` against `subject`.
    public static func run(_ name: String, on subject: Subject) async throws {
        guard let entry = all.first(where: { $0.name == name }) else {
            Issue.record("no contract check is named \(name)")
            return
        }
        try await entry.check(subject)
    }

    // MARK: begin, complete, replay

    /// A free key is taken in flight under the caller's owner and a positive fence.
    public static func aFreeKeyIsAcquired(_ store: some IdempotencyStore) async throws {
        let payment = try request(try freshUser("contract-free"))
        let owner = token()
        let begun = try await begin(store, payment, owner: owner)
        guard case .acquired(let lease, let rateLimit) = begun else {
            Issue.record("a free key is acquired, got \(begun)")
            return
        }
        #expect(lease.owner == owner)
        #expect(lease.fence > 0)
        #expect(rateLimit == nil, "no bucket was asked for")
    }

    /// A second begin while the key is held is in flight, with a retry-after of at most
    /// what is left of the lease.
    public static func aHeldKeyIsInFlightForAtMostTheLease(_ store: some IdempotencyStore) async throws {
        let payment = try request(try freshUser("contract-held"))
        _ = try await acquire(store, payment)
        let second = try await begin(store, payment)
        let retryAfter = try #require(second.retryAfter, "a held key is in flight, got \(second)")
        #expect((1...leaseMilliseconds).contains(retryAfter), "retry after \(retryAfter) ms")
    }

    /// After `complete`, begin replays the stored status and exact bytes, and the replay
    /// is confirmed.
    public static func aCompletedKeyReplaysTheStoredBytes(_ store: some IdempotencyStore) async throws {
        let payment = try request(try freshUser("contract-replay"))
        let lease = try await acquire(store, payment)
        // Not UTF-8, and a zero byte: the body is kept as bytes, not as text.
        let response = StoredResponse(status: 200, body: Array(#"{"payment":"ok"}"#.utf8) + [0, 0xFF, 0x0A])
        #expect(try await commit(store, payment, lease: lease, response: response) == .committed)
        #expect(try await begin(store, payment) == .replay(response, rateLimit: nil))
        #expect(try await store.confirmReplay(payment) == .confirmed)
    }

    /// The key remembers its payload: another amount or currency is a mismatch while in
    /// flight and once done, and never replays.
    public static func anotherFingerprintIsAMismatch(_ store: some IdempotencyStore) async throws {
        let user = try freshUser("contract-mismatch")
        let payment = try request(user)
        let otherAmount = try request(user, amountMinor: 1_001)
        let otherCurrency = try request(user, currency: try #require(Currency(code: "EUR")))
        let lease = try await acquire(store, payment)
        #expect(try await begin(store, otherAmount) == .fingerprintMismatch, "in flight")
        #expect(try await commit(store, payment, lease: lease) == .committed)
        #expect(try await begin(store, otherAmount) == .fingerprintMismatch, "done")
        #expect(try await begin(store, otherCurrency) == .fingerprintMismatch, "done")
        #expect(try await begin(store, payment).replayed != nil, "the same payload still replays")
    }

    /// `complete` with another owner or fence is lease lost and changes nothing: no
    /// charge, the record still in flight, and the holder can still complete.
    public static func aStaleLeaseCannotComplete(_ store: some IdempotencyStore) async throws {
        let payment = try request(try freshUser("contract-stale"))
        let lease = try await acquire(store, payment)
        let stale = [
            Lease(owner: "someone-else", fence: lease.fence),
            Lease(owner: lease.owner, fence: lease.fence - 1),
            Lease(owner: lease.owner, fence: lease.fence + 1),
        ]
        for other in stale {
            #expect(try await commit(store, payment, lease: other) == .leaseLost, "\(other)")
        }
        #expect(try await store.ledger(for: payment.userID, tenant: nil).payments == 0, "nothing was charged")
        #expect(try await begin(store, payment).retryAfter != nil, "still in flight, not done")
        #expect(try await commit(store, payment, lease: lease) == .committed, "the holder still can")
        #expect(try await store.ledger(for: payment.userID, tenant: nil).payments == 1)
    }

    /// Exactly once: the lease is gone once its completion committed.
    public static func aDoneKeyCannotBeCompletedAgain(_ store: some IdempotencyStore) async throws {
        let payment = try request(try freshUser("contract-twice"))
        let lease = try await acquire(store, payment)
        #expect(try await commit(store, payment, lease: lease) == .committed)
        #expect(try await commit(store, payment, lease: lease) == .leaseLost)
        #expect(try await store.extend(payment, lease: lease, to: standardLease) == false)
        #expect(try await store.abort(payment, lease: lease) == false, "a done record is never deleted by abort")
        #expect(try await store.ledger(for: payment.userID, tenant: nil).payments == 1)
        #expect(try await begin(store, payment).replayed != nil)
    }

    // MARK: abort, abandon, fences, leases

    /// Abort with the lease deletes a fresh record: the key is free for any payload.
    public static func abortFreesTheKey(_ store: some IdempotencyStore) async throws {
        let user = try freshUser("contract-abort")
        let payment = try request(user)
        let lease = try await acquire(store, payment)
        #expect(try await store.abort(payment, lease: Lease(owner: "someone-else", fence: lease.fence)) == false)
        #expect(try await store.abort(payment, lease: Lease(owner: lease.owner, fence: lease.fence + 1)) == false)
        #expect(try await begin(store, payment).retryAfter != nil, "a refused abort leaves it held")
        #expect(try await store.abort(payment, lease: lease))
        #expect(try await store.abort(payment, lease: lease) == false, "nothing left to abort")
        // Nothing of the aborted attempt is remembered, not even its payload.
        let another = try await begin(store, try request(user, amountMinor: 2_000))
        #expect(another.acquiredLease != nil, "a free key, got \(another)")
    }

    /// Abandon (a `begin` whose reply was lost) deletes the record its owner holds,
    /// whatever the fence, and nobody else's.
    public static func abandonReleasesOnlyTheOwnersRecord(_ store: some IdempotencyStore) async throws {
        let payment = try request(try freshUser("contract-abandon"))
        let owner = token()
        _ = try await acquire(store, payment, owner: owner)
        try await store.abandon(payment, owner: "someone-else")
        #expect(try await begin(store, payment).retryAfter != nil, "another owner's abandon changes nothing")
        try await store.abandon(payment, owner: owner)
        let next = try await begin(store, payment)
        #expect(next.acquiredLease != nil, "the owner's abandon frees the key, got \(next)")
    }

    /// The fence grows with every attempt on a key: across aborts and across a takeover
    /// of a lease that ran out.
    public static func fencesGrow(_ subject: Subject) async throws {
        let store = subject.store
        let payment = try request(try freshUser("contract-fence"))
        var fences: [Int64] = []
        for _ in 0..<3 {
            let lease = try await acquire(store, payment)
            fences.append(lease.fence)
            #expect(try await store.abort(payment, lease: lease))
        }
        fences.append(try await acquire(store, payment, lease: .milliseconds(100)).fence)
        try await subject.advance(.milliseconds(300))
        fences.append(try await acquire(store, payment).fence)
        let grew = zip(fences, fences.dropFirst()).allSatisfy { $0 < $1 }
        #expect(grew, "every fence above the one before: \(fences)")
    }

    /// A lease that ran out: the next begin takes the key over with a higher fence, and
    /// the old holder can neither complete, extend nor abort.
    public static func aLeaseThatRanOutIsTakenOver(_ subject: Subject) async throws {
        let store = subject.store
        let payment = try request(try freshUser("contract-takeover"))
        let old = try await acquire(store, payment, lease: .milliseconds(100))
        try await subject.advance(.milliseconds(300))
        let new = try await acquire(store, payment)
        #expect(new.fence > old.fence)
        #expect(try await commit(store, payment, lease: old) == .leaseLost)
        #expect(try await store.extend(payment, lease: old, to: standardLease) == false)
        #expect(try await store.abort(payment, lease: old) == false)
        #expect(try await commit(store, payment, lease: new) == .committed)
        #expect(try await store.ledger(for: payment.userID, tenant: nil).payments == 1)
    }

    /// Extend needs the lease (owner and fence); done, it keeps the key past the lease's
    /// first end.
    public static func extendNeedsTheLease(_ subject: Subject) async throws {
        let store = subject.store
        let payment = try request(try freshUser("contract-extend"))
        // No wait: the key's remaining lease, as the next begin sees it, shows the extension.
        let lease = try await acquire(store, payment, lease: .seconds(2))
        #expect(try await store.extend(payment, lease: Lease(owner: "someone-else", fence: lease.fence), to: standardLease) == false)
        #expect(try await store.extend(payment, lease: Lease(owner: lease.owner, fence: lease.fence + 1), to: standardLease) == false)
        #expect(try await store.extend(payment, lease: lease, to: standardLease))
        let remaining = try #require(try await begin(store, payment).retryAfter, "the key is still held")
        #expect(remaining > 2_000, "the extension (10 s) outlasts the first lease (2 s): \(remaining) ms left")
        #expect(try await store.abort(payment, lease: lease))
        #expect(try await store.extend(payment, lease: lease, to: standardLease) == false, "nothing left to extend")
    }

    // MARK: unknown outcomes

    /// markUnknown keeps the record with its fingerprint and the attempt's identity, lease
    /// released: the same payload re-drives at once with that identity, another payload is
    /// a mismatch, a re-drive is in flight for its own lease and is re-driven again once
    /// its holder is gone, and completing it charges once and leaves the unknown list.
    public static func anUnknownRecordIsRedriven(_ subject: Subject) async throws {
        let store = subject.store
        let user = try freshUser("contract-unknown")
        let payment = try request(user)
        let first = try await acquire(store, payment)
        let earlier = identity("unknown")
        #expect(try await markUnknown(store, payment, lease: first, identity: earlier))
        #expect(try await markUnknown(store, payment, lease: first, identity: earlier) == false,
                "its lease is released: the same attempt cannot mark it again")
        #expect(try await commit(store, payment, lease: first) == .leaseLost)

        let listed = try await store.ledger(for: user, tenant: nil)
        #expect(listed.unknown.map(\.paymentID) == [earlier.paymentID], "the ledger lists the unknown payment")
        #expect(listed.unknown.map(\.idempotencyKey) == [payment.idempotencyKey.value])
        #expect(listed.payments == 0)

        #expect(try await begin(store, try request(user, amountMinor: 9_999)) == .fingerprintMismatch)
        // Two seconds: the begin below sees it held whatever the machine's load.
        let again = try await begin(store, payment, lease: .seconds(2))
        let redrive = try #require(again.redriven, "the same payload re-drives, got \(again)")
        #expect(redrive.earlier == earlier)
        #expect(redrive.lease.fence > first.fence)

        let meanwhile = try await begin(store, payment)
        let retryAfter = try #require(meanwhile.retryAfter, "a re-drive holds the key, got \(meanwhile)")
        #expect((1...2_000).contains(retryAfter), "for its own lease (2 s), not the record's retention: \(retryAfter) ms")

        try await subject.advance(.milliseconds(2_300))
        let third = try await begin(store, payment)
        let takeover = try #require(third.redriven, "a re-drive whose holder is gone is re-driven, got \(third)")
        #expect(takeover.earlier == earlier)
        #expect(takeover.lease.fence > redrive.lease.fence)
        #expect(try await commit(store, payment, lease: redrive.lease, identity: earlier) == .leaseLost)
        #expect(try await commit(store, payment, lease: takeover.lease, identity: earlier) == .committed)

        let settled = try await store.ledger(for: user, tenant: nil)
        #expect(settled.payments == 1)
        #expect(settled.charges.map(\.paymentID) == [earlier.paymentID])
        #expect(settled.unknown.isEmpty, "a completed payment leaves the unknown list")
    }

    /// A re-drive that charged nothing says nothing of the earlier attempt: abort returns
    /// the record to unknown (not free), and abandon does the same.
    public static func abortingARedriveKeepsItUnknown(_ store: some IdempotencyStore) async throws {
        let user = try freshUser("contract-redrive-abort")
        let payment = try request(user)
        let earlier = identity("redrive-abort")
        #expect(try await markUnknown(store, payment, lease: try await acquire(store, payment), identity: earlier))

        let first = try #require(try await begin(store, payment).redriven)
        #expect(try await store.abort(payment, lease: first.lease))
        let second = try #require(try await begin(store, payment).redriven, "still unknown after the abort")
        #expect(second.earlier == earlier)
        #expect(try await begin(store, try request(user, amountMinor: 3_000)) == .fingerprintMismatch)

        try await store.abandon(payment, owner: second.lease.owner)
        let third = try #require(try await begin(store, payment).redriven, "still unknown after the abandon")
        #expect(third.earlier == earlier)
        #expect(try await store.ledger(for: user, tenant: nil).unknown.map(\.paymentID) == [earlier.paymentID])
    }

    // MARK: the bucket, the ledger, tenants

    /// The user's bucket: capacity 2, refilled at 1 a second. Two begins take its tokens,
    /// the third is refused before the record is read or written, another user's bucket
    /// is untouched, and after a second the refused key is free.
    public static func theUsersBucketLimits(_ subject: Subject) async throws {
        let store = subject.store
        let policy = RateLimitPolicy(name: "user", capacity: 2, refillPerSecond: 1)
        let user = try freshUser("contract-bucket")

        let first = try await begin(store, try request(user, key: "bucket-1"), rateLimit: policy)
        guard case .acquired(_, let firstStatus?) = first else {
            Issue.record("the first begin is allowed and reports the bucket, got \(first)")
            return
        }
        #expect(firstStatus.policy == policy)
        #expect(firstStatus.remaining == 1)
        #expect((1...2_000).contains(firstStatus.resetMilliseconds))

        let second = try await begin(store, try request(user, key: "bucket-2"), rateLimit: policy)
        guard case .acquired(_, let secondStatus?) = second else {
            Issue.record("the second begin is allowed, got \(second)")
            return
        }
        #expect(secondStatus.remaining == 0)

        let refusedKey = try request(user, key: "bucket-3")
        let third = try await begin(store, refusedKey, rateLimit: policy)
        guard case .rateLimited(let status, let retryAfter) = third else {
            Issue.record("the third begin is limited, got \(third)")
            return
        }
        #expect(status.policy == policy)
        #expect(status.remaining == 0)
        #expect((1...1_000).contains(retryAfter), "one token at 1/s: \(retryAfter) ms")
        #expect((1...2_000).contains(status.resetMilliseconds))

        let other = try await begin(store, try request(try freshUser("contract-bucket-other")), rateLimit: policy)
        guard case .acquired(_, let otherStatus?) = other else {
            Issue.record("another user's bucket is full, got \(other)")
            return
        }
        #expect(otherStatus.remaining == 1)

        // Without a policy no bucket is read: the key's own state decides.
        #expect(try await begin(store, try request(user, key: "bucket-1")).retryAfter != nil)

        try await subject.advance(.milliseconds(1_100))
        let later = try await begin(store, refusedKey, rateLimit: policy)
        #expect(later.acquiredLease != nil, "refilled, and the refused begin wrote no record: got \(later)")
    }

    /// The ledger: the count, the totals per currency and the charges in order, of the
    /// completions that charged; a decline (no charge) is stored but not counted.
    public static func theLedgerCountsCompletions(_ store: some IdempotencyStore) async throws {
        let user = try freshUser("contract-ledger")
        let euro = try #require(Currency(code: "EUR"))
        let usd1 = try request(user, key: "ledger-1", amountMinor: 1_000)
        let usd2 = try request(user, key: "ledger 2 with spaces", amountMinor: 250)
        let eur = try request(user, key: "ledger-3", amountMinor: 500, currency: euro)
        let declined = try request(user, key: "ledger-4", amountMinor: 7_000)

        #expect(try await commit(store, usd1, lease: try await acquire(store, usd1), chargeID: "ch_a") == .committed)
        #expect(try await commit(store, usd2, lease: try await acquire(store, usd2), chargeID: nil) == .committed)
        #expect(try await commit(store, eur, lease: try await acquire(store, eur), chargeID: "ch_c") == .committed)
        let decline = StoredResponse(status: 402, body: Array(#"{"declined":true}"#.utf8))
        let declineLease = try await acquire(store, declined)
        #expect(try await store.complete(
            declined, lease: declineLease, response: decline, charge: nil, identity: identity(for: declined), retention: retention
        ) == .committed)
        #expect(try await begin(store, declined) == .replay(decline, rateLimit: nil), "a decline is a final answer, replayed")

        let ledger = try await store.ledger(for: user, tenant: nil)
        #expect(ledger.userID == user)
        #expect(ledger.payments == 3)
        #expect(ledger.totals == ["USD": 1_250, "EUR": 500])
        #expect(ledger.chargesTotal == 3)
        #expect(ledger.charges == [
            Charge(paymentID: identity(for: usd1).paymentID, idempotencyKey: "ledger-1", amountMinor: 1_000, currency: "USD", chargeID: "ch_a"),
            Charge(paymentID: identity(for: usd2).paymentID, idempotencyKey: "ledger 2 with spaces", amountMinor: 250, currency: "USD", chargeID: nil),
            Charge(paymentID: identity(for: eur).paymentID, idempotencyKey: "ledger-3", amountMinor: 500, currency: "EUR", chargeID: "ch_c"),
        ])
        #expect(ledger.unknown.isEmpty)

        let window = try await store.ledger(for: user, tenant: nil, charges: ChargeWindow(offset: 1, limit: 1))
        #expect(window.charges.map(\.idempotencyKey) == ["ledger 2 with spaces"])
        #expect(window.chargesTotal == 3 && window.payments == 3)
        let past = try await store.ledger(for: user, tenant: nil, charges: ChargeWindow(offset: 10))
        #expect(past.charges.isEmpty && past.chargesTotal == 3)

        let nobody = try await store.ledger(for: try freshUser("contract-ledger-empty"), tenant: nil)
        #expect(nobody.payments == 0 && nobody.totals.isEmpty && nobody.charges.isEmpty && nobody.chargesTotal == 0)
    }

    /// The same user and key under two tenants (and none) are three payments.
    public static func tenantsShareNothing(_ store: some IdempotencyStore) async throws {
        let user = try freshUser("contract-tenant")
        let plain = try request(user)
        var tenantA = plain
        tenantA.tenant = try #require(Tenant("tenant-a"))
        var tenantB = plain
        tenantB.tenant = try #require(Tenant("tenant-b"))

        #expect(try await commit(store, tenantA, lease: try await acquire(store, tenantA)) == .committed)
        #expect(try await begin(store, tenantB).acquiredLease != nil, "tenant b's key is its own")
        #expect(try await begin(store, plain).acquiredLease != nil, "no tenant is not tenant a")
        #expect(try await store.ledger(for: user, tenant: tenantA.tenant).payments == 1)
        #expect(try await store.ledger(for: user, tenant: tenantB.tenant).payments == 0)
        #expect(try await store.ledger(for: user, tenant: nil).payments == 0)
    }

    // MARK: the reconciler's queue

    /// markUnknown schedules the reconciler; claim takes the unknown record under a new
    /// lease and fence with what the reconciler needs (the request, the identity, the
    /// attempts); an attempt meanwhile is in flight and a second claim is busy; release
    /// deletes the record and its unknown entry; remove takes it off the queue.
    public static func theReconcilerClaimsAndReleases(_ store: some IdempotencyStore & UnknownPaymentQueue) async throws {
        let user = try freshUser("contract-claim")
        let payment = try request(user, amountMinor: 4_321)
        let reference = UnknownPaymentReference(payment)
        let earlier = identity("claim")
        let first = try await acquire(store, payment)
        #expect(try await store.markUnknown(
            payment, lease: first, identity: earlier, retention: retention, followUp: .recheck(after: .zero, attempts: 2)
        ))
        #expect(try await store.counts() == UnknownCounts(pending: 1, unresolved: 0))
        #expect(try await store.due(limit: 10) == [reference])

        let claim = try await store.claim(reference, owner: "reconciler", lease: standardLease, retention: retention)
        guard case .claimed(let claimed) = claim else {
            Issue.record("an unknown record is claimed, got \(claim)")
            return
        }
        #expect(claimed.reference == reference)
        #expect(claimed.request == payment, "rebuilt from the record: user, key, amount, currency")
        #expect(claimed.identity == earlier)
        #expect(claimed.attempts == 2)
        #expect(claimed.lease.owner == "reconciler")
        #expect(claimed.lease.fence > first.fence)

        #expect(try await begin(store, payment).retryAfter != nil, "a client's retry meanwhile is in flight")
        #expect(try await store.claim(reference, owner: "another-replica", lease: standardLease, retention: retention) == .busy)

        #expect(try await store.release(claimed))
        #expect(try await store.release(claimed) == false, "released once")
        #expect(try await store.ledger(for: user, tenant: nil).unknown.isEmpty)
        #expect(try await store.claim(reference, owner: "reconciler", lease: standardLease, retention: retention) == .settled)
        #expect(try await begin(store, payment).acquiredLease != nil, "the next retry charges afresh")

        try await store.remove(reference)
        #expect(try await store.counts() == UnknownCounts(pending: 0, unresolved: 0))
    }

    /// Given up: counted unresolved (not pending) while the record is unknown; once a
    /// client's retry completed it, a sweep takes it off and claim finds it settled.
    public static func anUnresolvedPaymentIsCountedUntilItSettles(_ store: some IdempotencyStore & UnknownPaymentQueue) async throws {
        let payment = try request(try freshUser("contract-unresolved"))
        let reference = UnknownPaymentReference(payment)
        let earlier = identity("unresolved")
        #expect(try await store.markUnknown(
            payment, lease: try await acquire(store, payment), identity: earlier, retention: retention, followUp: .unresolved(attempts: 5)
        ))
        #expect(try await store.counts() == UnknownCounts(pending: 0, unresolved: 1))
        #expect(try await store.due(limit: 10).isEmpty, "not looked at again by itself")
        #expect(try await store.sweepUnresolved(limit: 10) == 0, "still unknown")

        let retry = try #require(try await begin(store, payment).redriven)
        #expect(try await store.sweepUnresolved(limit: 10) == 0, "in flight: not settled yet")
        #expect(try await commit(store, payment, lease: retry.lease, identity: earlier) == .committed)
        #expect(try await store.claim(reference, owner: "reconciler", lease: standardLease, retention: retention) == .settled)
        #expect(try await store.sweepUnresolved(limit: 10) == 1)
        #expect(try await store.counts() == UnknownCounts(pending: 0, unresolved: 0))
    }

    // MARK: lookup by payment id

    /// Not found before the flow indexes it; indexed, a first attempt in flight is in
    /// progress (its record carries no id: the secret derives it). Unknown, it is found
    /// with its amount and currency; re-driven, in progress; completed, charged, with the
    /// receipt a replay answers byte for byte and the processor's charge id; its creation
    /// time stays the first begin's.
    public static func aPaymentIsFoundByItsIDThroughItsLife(_ store: some IdempotencyStore) async throws {
        let payment = try request(try freshUser("contract-lookup"), amountMinor: 1_234, currency: try #require(Currency(code: "EUR")))
        let identity = identity(for: payment)
        let first = try await acquire(store, payment)
        #expect(try await store.lookup(paymentID: identity.paymentID, tenant: nil, secret: .unset) == nil, "not indexed yet")
        try await store.index(payment, identity: identity, retention: retention)
        let sent = try #require(try await store.lookup(paymentID: identity.paymentID, tenant: nil, secret: .unset), "indexed: found")
        #expect(sent.status == .inProgress && sent.amountMinor == 1_234 && sent.currency == "EUR" && sent.receipt == nil)
        let rotated = PaymentIdentity.Secret(bytes: Array("another secret".utf8), version: 2)
        #expect(try await store.lookup(paymentID: identity.paymentID, tenant: nil, secret: rotated) == nil, "another secret derives another id")

        #expect(try await markUnknown(store, payment, lease: first, identity: identity))
        let unknown = try #require(try await store.lookup(paymentID: identity.paymentID, tenant: nil, secret: .unset), "an unknown payment is found")
        #expect(unknown.paymentID == identity.paymentID)
        #expect(unknown.status == .unknown)
        #expect(unknown.amountMinor == 1_234 && unknown.currency == "EUR")
        #expect(unknown.chargeID == nil && unknown.receipt == nil)
        #expect(unknown.createdMilliseconds > 0 && unknown.createdMilliseconds <= unknown.updatedMilliseconds)

        let redrive = try #require(try await begin(store, payment).redriven)
        let again = try #require(try await store.lookup(paymentID: identity.paymentID, tenant: nil, secret: .unset), "a re-drive is found")
        #expect(again.status == .inProgress)
        #expect(again.receipt == nil)

        let (response, charge) = PaymentReceipt.completion(of: payment, identity: identity, chargeID: "ch_lookup")
        #expect(try await store.complete(
            payment, lease: redrive.lease, response: response, charge: charge, identity: identity, retention: retention
        ) == .committed)
        let charged = try #require(try await store.lookup(paymentID: identity.paymentID, tenant: nil, secret: .unset), "a charged payment is found")
        #expect(charged.status == .charged)
        #expect(charged.receipt == response.body, "the receipt a replay answers, byte for byte")
        #expect(try await begin(store, payment).replayed?.body == charged.receipt)
        #expect(charged.chargeID == "ch_lookup")
        #expect(charged.amountMinor == 1_234 && charged.currency == "EUR")
        #expect(charged.createdMilliseconds == unknown.createdMilliseconds, "created by the first begin")
        #expect(charged.updatedMilliseconds >= unknown.updatedMilliseconds)
    }

    /// A decline is found as declined, with the 402 problem a replay answers; no charge id.
    public static func aDeclinedPaymentIsFoundWithItsStoredAnswer(_ store: some IdempotencyStore) async throws {
        let payment = try request(try freshUser("contract-lookup-decline"), amountMinor: 700)
        let identity = identity(for: payment)
        let decline = PaymentDecline(paymentID: identity.paymentID, request: payment, code: "card_declined", message: "insufficient funds")
        let response = StoredResponse(status: PaymentDecline.status, body: decline.json)
        let lease = try await acquire(store, payment)
        try await store.index(payment, identity: identity, retention: retention)
        #expect(try await store.complete(
            payment, lease: lease, response: response, charge: nil, identity: identity, retention: retention
        ) == .committed)
        let found = try #require(try await store.lookup(paymentID: identity.paymentID, tenant: nil, secret: .unset), "a declined payment is found")
        #expect(found.status == .declined)
        #expect(found.receipt == decline.json)
        #expect(found.chargeID == nil)
        #expect(found.amountMinor == 700 && found.currency == "USD")
    }

    /// Another tenant, or none (authentication off), finds nothing under a tenant's id,
    /// exactly as under an id never handed out.
    public static func aPaymentIDIsFoundOnlyByItsTenant(_ store: some IdempotencyStore) async throws {
        var payment = try request(try freshUser("contract-lookup-tenant"))
        payment.tenant = try #require(Tenant("tenant-a"))
        let identity = identity(for: payment)
        let (response, charge) = PaymentReceipt.completion(of: payment, identity: identity, chargeID: nil)
        let lease = try await acquire(store, payment)
        try await store.index(payment, identity: identity, retention: retention)
        #expect(try await store.complete(
            payment, lease: lease, response: response, charge: charge, identity: identity, retention: retention
        ) == .committed)
        #expect(try await store.lookup(paymentID: identity.paymentID, tenant: payment.tenant, secret: .unset)?.status == .charged)
        #expect(try await store.lookup(paymentID: identity.paymentID, tenant: try #require(Tenant("tenant-b")), secret: .unset) == nil)
        #expect(try await store.lookup(paymentID: identity.paymentID, tenant: nil, secret: .unset) == nil, "no tenant is not tenant a")
        #expect(try await store.lookup(paymentID: "pay_" + String(repeating: "0", count: 32), tenant: payment.tenant, secret: .unset) == nil)
    }

    /// The index outlives a record the reconciler released; the key, used again, gets a
    /// new record under another id (a rotated secret): the old id is not found, the new
    /// one is.
    public static func anIDWhoseKeyWasUsedAgainIsNotFound(_ store: some IdempotencyStore & UnknownPaymentQueue) async throws {
        let payment = try request(try freshUser("contract-lookup-stale"))
        let older = identity("stale")
        let lease = try await acquire(store, payment)
        try await store.index(payment, identity: older, retention: retention)
        #expect(try await markUnknown(store, payment, lease: lease, identity: older))
        #expect(try await store.lookup(paymentID: older.paymentID, tenant: nil, secret: .unset)?.status == .unknown)
        let claim = try await store.claim(UnknownPaymentReference(payment), owner: "reconciler", lease: standardLease, retention: retention)
        guard case .claimed(let claimed) = claim else {
            Issue.record("an unknown record is claimed, got \(claim)")
            return
        }
        #expect(try await store.release(claimed))
        #expect(try await store.lookup(paymentID: older.paymentID, tenant: nil, secret: .unset) == nil, "its record is gone")

        let current = identity(for: payment)
        let (response, charge) = PaymentReceipt.completion(of: payment, identity: current, chargeID: nil)
        let again = try await acquire(store, payment)
        #expect(try await store.lookup(paymentID: older.paymentID, tenant: nil, secret: .unset) == nil, "in flight under another id")
        try await store.index(payment, identity: current, retention: retention)
        #expect(try await store.complete(
            payment, lease: again, response: response, charge: charge, identity: current, retention: retention
        ) == .committed)
        #expect(try await store.lookup(paymentID: older.paymentID, tenant: nil, secret: .unset) == nil, "the key's record carries another id now")
        #expect(try await store.lookup(paymentID: current.paymentID, tenant: nil, secret: .unset)?.status == .charged)
    }

    // MARK: Helpers

    static let standardLease = Duration.seconds(10)
    static let leaseMilliseconds = 10_000
    static let retention = Duration.seconds(3600)

    /// A user id no other check (or run sharing the server) uses.
    public static func freshUser(_ label: String) throws -> UserID {
        try UserID("\(label)-\(UInt32.random(in: 0...UInt32.max))")
    }

    static func token() -> String {
        "owner-\(UInt64.random(in: 0...UInt64.max))"
    }

    static func request(
        _ user: UserID, key: String = "key-1", amountMinor: Int64 = 1_000, currency: Currency = .usd
    ) throws -> PaymentRequest {
        PaymentRequest(userID: user, amountMinor: amountMinor, currency: currency, idempotencyKey: try IdempotencyKey(key))
    }

    /// An identity that is visibly not the one `PaymentIdentity(for:secret:)` derives, so
    /// a re-drive that answered the derived one instead would fail.
    static func identity(_ label: String) -> PaymentIdentity {
        let tag = UInt32.random(in: 0...UInt32.max)
        return PaymentIdentity(paymentID: "pay_contract_\(label)_\(tag)", processorKey: "pk_contract_\(label)_\(tag)")
    }

    static func identity(for request: PaymentRequest) -> PaymentIdentity {
        PaymentIdentity(for: request, secret: .unset)
    }

    static func begin(
        _ store: some IdempotencyStore, _ request: PaymentRequest, owner: String? = nil, lease: Duration = StoreContract.standardLease,
        rateLimit: RateLimitPolicy? = nil
    ) async throws -> BeginResult {
        try await store.begin(request, owner: owner ?? token(), lease: lease, retention: retention, rateLimit: rateLimit)
    }

    /// Begins a key that must be free; throws (failing the check) otherwise.
    static func acquire(
        _ store: some IdempotencyStore, _ request: PaymentRequest, owner: String? = nil, lease: Duration = StoreContract.standardLease
    ) async throws -> Lease {
        let begun = try await begin(store, request, owner: owner, lease: lease)
        return try #require(begun.acquiredLease, "expected \(request.idempotencyKey) to be free, got \(begun)")
    }

    /// Completes with a charge (a receipt-like body) under `identity` (by default the
    /// derived one).
    static func commit(
        _ store: some IdempotencyStore, _ request: PaymentRequest, lease: Lease, identity: PaymentIdentity? = nil,
        response: StoredResponse? = nil, chargeID: String? = "ch_contract"
    ) async throws -> CompleteResult {
        let identity = identity ?? Self.identity(for: request)
        let body = response ?? StoredResponse(status: 200, body: Array(#"{"payment_id":"\#(identity.paymentID)"}"#.utf8))
        return try await store.complete(
            request, lease: lease, response: body, charge: LedgerCharge(paymentID: identity.paymentID, chargeID: chargeID),
            identity: identity, retention: retention
        )
    }

    static func markUnknown(
        _ store: some IdempotencyStore, _ request: PaymentRequest, lease: Lease, identity: PaymentIdentity
    ) async throws -> Bool {
        try await store.markUnknown(
            request, lease: lease, identity: identity, retention: retention, followUp: .recheck(after: .seconds(60), attempts: nil)
        )
    }
}

extension BeginResult {
    var acquiredLease: Lease? {
        if case .acquired(let lease, _) = self { lease } else { nil }
    }

    var redriven: (lease: Lease, earlier: PaymentIdentity)? {
        if case .redrive(let lease, _, let earlier) = self { (lease: lease, earlier: earlier) } else { nil }
    }

    var replayed: StoredResponse? {
        if case .replay(let response, _) = self { response } else { nil }
    }

    var retryAfter: Int? {
        if case .inFlight(let retryAfter) = self { retryAfter } else { nil }
    }
}

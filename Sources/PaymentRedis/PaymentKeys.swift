import PaymentCore

/// The Redis key layout. Every key of one request carries the hash tag `{user_id}`, so
/// each script touches a single Redis Cluster slot.
///
///     pay:{u}:idem:<key>   hash  state (inflight|unknown|done), fp, owner, fence, status,
///                                body, amount, cur, created (ms, by begin), updated (ms, by
///                                complete and markUnknown); once unknown also pk, pid,
///                                since, attempts, and `until` (the lease while in flight
///                                again)
///     pay:{u}:bucket       hash  t (milli-tokens), ts (ms)
///     pay:{u}:fence:<key>  int   the key's last fencing token (expires with retention)
///     pay:{u}:ledger       hash  count, total:<CUR>
///     pay:{u}:charges      list  "<payment_id> <amount_minor> <CUR> <idempotency key>"
///     pay:{u}:unknown      zset  "<payment id> <key>" of the user's unknown payments,
///                                scored by when they became unknown (ms)
///     pay:global:bucket    hash  the bucket shared by all users (no user key's shape)
///     pay:reconcile        zset  the reconciler's queue: "<tenant>\0<user>\0<key>" by
///                                when it is due (ms); not atomic with the record (another
///                                slot), so it is written first and checked against it
///     pay:reconcile:unresolved  zset  the same, for payments the reconciler gave up on
///     pay:pid:<payment id> string "<tenant>\0<user>\0<key>" (the reconciler queue's
///                                member): which record a payment id is, for a lookup by
///                                id; the id is an HMAC, not invertible. Another slot, so
///                                a step of its own, before the processor is asked, with
///                                twice the retention as its TTL; the record is checked
///                                against it (it must be the id's), as the queue's is
///     pay:{u}:lock:<key>   string owner token (Redlock mode, on each lock node only)
///
/// With authentication on, a tenant's keys start with `t:<tenant>:` (the hash tag stays
/// `{user}`), so tenants can neither replay nor read each other's payments.
public struct PaymentKeys: Sendable, Hashable {
    /// Put in front of every key, before any tenant prefix; empty by default.
    public let prefix: String

    public init(prefix: String = "") {
        self.prefix = prefix
    }

    private func user(_ user: UserID, _ tenant: Tenant?) -> String {
        "\(prefix)\(tenant.map { "t:\($0.name):" } ?? "")pay:{\(user.value)}"
    }

    public func idempotency(_ request: PaymentRequest) -> String {
        "\(user(request.userID, request.tenant)):idem:\(request.idempotencyKey.value)"
    }

    public func fence(_ request: PaymentRequest) -> String {
        "\(user(request.userID, request.tenant)):fence:\(request.idempotencyKey.value)"
    }

    public func lock(_ request: PaymentRequest) -> String {
        "\(user(request.userID, request.tenant)):lock:\(request.idempotencyKey.value)"
    }

    public func bucket(_ userID: UserID, tenant: Tenant? = nil) -> String { "\(user(userID, tenant)):bucket" }
    public func unknown(_ userID: UserID, tenant: Tenant? = nil) -> String { "\(user(userID, tenant)):unknown" }
    /// No braces, like the global bucket: no user id can name them.
    public var reconcileQueue: String { "\(prefix)pay:reconcile" }
    public var unresolvedQueue: String { "\(prefix)pay:reconcile:unresolved" }
    /// No braces either: an index entry is on a slot of its own, whoever's payment it is.
    /// No tenant prefix: the id (an HMAC over the tenant too) is one tenant's already, and
    /// the entry names its tenant, which the lookup checks.
    public func paymentIndex(_ paymentID: String) -> String { "\(prefix)pay:pid:\(paymentID)" }
    public func ledger(_ userID: UserID, tenant: Tenant? = nil) -> String { "\(user(userID, tenant)):ledger" }
    public func charges(_ userID: UserID, tenant: Tenant? = nil) -> String { "\(user(userID, tenant)):charges" }
    /// No braces: every user key has `pay:{` where this has `pay:g`, so no user id (not
    /// even `global`) can name it: with `pay:{global}:bucket`, one request as the user
    /// `global` would drain the bucket every replica shares.
    public var globalBucket: String { "\(prefix)pay:global:bucket" }
}

import PaymentCore

/// The Redis key layout. Every key of one request carries the hash tag `{user_id}`, so
/// each script touches a single Redis Cluster slot.
///
///     pay:{u}:idem:<key>   hash  state, fp, owner, fence, status, body
///     pay:{u}:bucket       hash  t (milli-tokens), ts (ms)
///     pay:{u}:fence:<key>  int   the key's last fencing token (expires with retention)
///     pay:{u}:ledger       hash  count, total:<CUR>
///     pay:{u}:charges      list  "<payment_id> <amount_minor> <CUR> <idempotency key>"
///     pay:global:bucket    hash  the bucket shared by all users (no user key's shape)
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
    public func ledger(_ userID: UserID, tenant: Tenant? = nil) -> String { "\(user(userID, tenant)):ledger" }
    public func charges(_ userID: UserID, tenant: Tenant? = nil) -> String { "\(user(userID, tenant)):charges" }
    /// No braces: every user key has `pay:{` where this has `pay:g`, so no user id (not
    /// even `global`) can name it. It once was `pay:{global}:bucket`, the bucket of the
    /// user `global`: one request as that user drained the bucket every replica shares.
    public var globalBucket: String { "\(prefix)pay:global:bucket" }
}

import PaymentCore

/// The Redis key layout. Every key of one request carries the hash tag `{user_id}`, so
/// each script touches a single Redis Cluster slot.
///
///     pay:{u}:idem:<key>   hash  state, fp, owner, fence, status, body
///     pay:{u}:bucket       hash  t (milli-tokens), ts (ms)
///     pay:{u}:fence        int   last fencing token handed out
///     pay:{u}:ledger       hash  count, total:<CUR>
///     pay:{u}:charges      list  "<payment_id> <amount_minor> <CUR> <idempotency key>"
///     pay:{global}:bucket  hash  the bucket shared by all users
public struct PaymentKeys: Sendable, Hashable {
    /// Put in front of every key; empty by default (tenants use it later).
    public let prefix: String

    public init(prefix: String = "") {
        self.prefix = prefix
    }

    private func user(_ user: UserID) -> String { "\(prefix)pay:{\(user.value)}" }

    public func idempotency(_ request: PaymentRequest) -> String {
        "\(user(request.userID)):idem:\(request.idempotencyKey.value)"
    }

    public func bucket(_ userID: UserID) -> String { "\(user(userID)):bucket" }
    public func fence(_ userID: UserID) -> String { "\(user(userID)):fence" }
    public func ledger(_ userID: UserID) -> String { "\(user(userID)):ledger" }
    public func charges(_ userID: UserID) -> String { "\(user(userID)):charges" }
    public var globalBucket: String { "\(prefix)pay:{global}:bucket" }
}

/// A lock per idempotency key held on a quorum of independent nodes (Redlock mode,
/// `REDLOCK_URLS`), taken before `begin` and released after the last step.
///
/// It is an extra fence, not the guarantee: the data store's owner and fencing checks
/// in `begin`/`complete` stay the final guard, so a lock lost to a clock jump or a node
/// restart can delay a payment but never charge it twice.
public protocol KeyLock: Sendable {
    /// Tries to take the request's lock for `ttl`; `owner` is the caller's random token.
    func acquire(_ request: PaymentRequest, owner: String, ttl: Duration) async -> KeyLockAcquisition
    /// Pushes the lock's end to `ttl` from now on a majority of nodes. Returns the new
    /// validity (how long the holder may assume it still holds it), nil when the
    /// majority is lost.
    func extend(_ request: PaymentRequest, owner: String, ttl: Duration) async -> Duration?
    /// Releases the lock on every node that still has it under `owner`.
    func release(_ request: PaymentRequest, owner: String) async
}

public enum KeyLockAcquisition: Sendable, Hashable {
    /// Held on a majority; safe to assume for `validity` from now.
    case acquired(validity: Duration)
    /// Another owner holds it on a majority; it ends in about this many milliseconds.
    case held(retryAfterMilliseconds: Int)
    /// No majority could be reached (nodes down or too slow): fail closed.
    case unavailable(String)
}

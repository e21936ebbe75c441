/// How one `POST /pay` ended. The HTTP layer maps each case to a status and headers.
public enum PaymentOutcome: Sendable, Hashable {
    /// Executed now: charged and stored.
    case succeeded(StoredResponse, rateLimit: RateLimitStatus?)
    /// A completed key with the same payload: the stored response, unchanged.
    case replayed(StoredResponse, rateLimit: RateLimitStatus?)
    /// Another request holds the key.
    case inFlight(retryAfterMilliseconds: Int)
    /// The key was used by this user for another amount or currency.
    case fingerprintMismatch
    case rateLimited(RateLimitStatus, retryAfterMilliseconds: Int)
    /// The processor failed transiently: nothing stored. `keyReleased` is false when the
    /// release itself failed: the key is then held until its lease ends.
    case processorFailed(String, keyReleased: Bool)
    /// The work outlived its lease: nothing was committed; a retry decides.
    case leaseLost
    /// Redis could not be reached or answered too late: idempotency fails closed.
    case unavailable(String)
    /// The processor charged, but whether `complete` committed is unknown (its reply
    /// was lost): the payment may or may not be recorded. A retry with the same key
    /// finds out: it replays if it was, and runs once if it was not.
    case outcomeUnknown(String)

    /// The `outcome` label of `payment_requests_total`.
    public var label: String {
        switch self {
        case .succeeded: "succeeded"
        case .replayed: "replayed"
        case .inFlight: "in_flight"
        case .fingerprintMismatch: "fingerprint_mismatch"
        case .rateLimited: "rate_limited"
        case .processorFailed: "processor_failed"
        case .leaseLost: "lease_lost"
        case .unavailable: "unavailable"
        case .outcomeUnknown: "outcome_unknown"
        }
    }
}

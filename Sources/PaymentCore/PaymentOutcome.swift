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
    /// The processor declined: a final answer (402), stored and replayed; nothing charged.
    case declined(StoredResponse, rateLimit: RateLimitStatus?)
    /// The processor refused this attempt, known to have charged nothing, and no earlier
    /// attempt's outcome is unknown: nothing stored. `keyReleased` is false when the
    /// release itself failed: the key is then held until its lease ends.
    case processorFailed(String, keyReleased: Bool)
    /// Replicas are required (`REDIS_WAIT_REPLICAS`) and the key's shard has too few in
    /// sync: refused before anything was taken or charged.
    case replicasMissing(ReplicaShortfall)
    /// The work outlived its lease: this attempt recorded nothing; a retry decides (with
    /// the same processor key, so the processor charges at most once).
    case leaseLost
    /// Redis could not be reached or answered too late: idempotency fails closed.
    case unavailable(String)
    /// Whether the payment happened cannot be known now. A retry with the same key finds
    /// out: it replays if it was recorded, and runs once if it was not.
    case outcomeUnknown(UnknownOutcome)

    /// The `outcome` label of `payment_requests_total`.
    public var label: String {
        switch self {
        case .succeeded: "succeeded"
        case .replayed: "replayed"
        case .declined: "declined"
        case .inFlight: "in_flight"
        case .fingerprintMismatch: "fingerprint_mismatch"
        case .rateLimited: "rate_limited"
        case .processorFailed: "processor_failed"
        case .replicasMissing: "replicas_missing"
        case .leaseLost: "lease_lost"
        case .unavailable: "unavailable"
        case .outcomeUnknown: "outcome_unknown"
        }
    }
}

/// Whether the replicas a commit needs are there, from a cached, refreshed view.
public protocol ReplicaGate: Sendable {
    /// nil when the key's shard has as many replicas in sync as required (or none are).
    func shortfall(for request: PaymentRequest) -> ReplicaShortfall?
}

/// Why an outcome is unknown, and the payment id the processor and a later receipt use.
public struct UnknownOutcome: Sendable, Hashable {
    public enum Cause: Sendable, Hashable {
        /// The reply of `complete` was lost: it may have committed.
        case recordUnconfirmed(String)
        /// Recorded on the master, but not acknowledged by enough replicas in time.
        case notReplicated(ReplicaShortfall)
        /// The processor may have charged (5xx, timeout, dropped connection, an answer
        /// outside the contract, or a refusal after an earlier unknown attempt). `recorded`:
        /// the record is kept as unknown, its lease released, for the retry and the
        /// reconciler; false when Redis could not be written (the key is then held until
        /// its lease ends and a retry asks the processor again).
        case processor(String, recorded: Bool)
    }

    public let cause: Cause
    public let paymentID: String

    public init(_ cause: Cause, paymentID: String) {
        self.cause = cause
        self.paymentID = paymentID
    }

    /// For the log line: what happened, without the client's data.
    public var reason: String {
        switch cause {
        case .recordUnconfirmed(let message): "complete: \(message)"
        case .notReplicated(let shortfall): "\(shortfall.acknowledged) of \(shortfall.required) replicas acknowledged"
        case .processor(let message, _): "processor: \(message)"
        }
    }
}

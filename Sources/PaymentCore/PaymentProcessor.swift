/// The payment processor that moves the money. Its work runs while the key's lease is
/// held.
public protocol PaymentProcessor: Sendable {
    func charge(_ charge: ProcessorCharge) async -> ProcessorResult
    /// Read-only: what the processor holds under a processor key. The reconciler's
    /// question after an unknown outcome; it never creates a charge.
    func lookup(processorKey: String) async -> ProcessorLookup
}

/// What the processor holds under one processor key.
public enum ProcessorLookup: Sendable, Hashable {
    /// Charged, with what was charged (checked against our record before it is believed).
    case charged(chargeID: String, amountMinor: Int64, currency: String)
    /// Nothing was charged under the key (never seen, refused, or declined).
    case notCharged
    /// A charge with the key is still being worked on: ask again later.
    case inProgress
    /// No usable answer (timeout, 5xx, an answer outside the contract).
    case unknown(String)
}

/// What one attempt asks the processor to charge.
public struct ProcessorCharge: Sendable, Hashable {
    public let request: PaymentRequest
    /// Stable per logical payment: the processor's idempotency key and reference.
    public let identity: PaymentIdentity
    /// This attempt's fencing token, above every earlier attempt's on the key.
    public let fence: Int64

    public init(request: PaymentRequest, identity: PaymentIdentity, fence: Int64) {
        self.request = request
        self.identity = identity
        self.fence = fence
    }
}

/// What the processor said, and so what we may tell the client.
public enum ProcessorResult: Sendable, Hashable {
    /// Charged (now, or by an earlier attempt with the same processor key).
    case charged(chargeID: String?)
    /// Declined: final for this payment, nothing was charged.
    case declined(code: String, message: String)
    /// The processor is still working on this processor key (an earlier attempt).
    case busy(retryAfterMilliseconds: Int)
    /// This attempt is known to have charged nothing (a 4xx): a retry may succeed. Says
    /// nothing of earlier attempts with the same processor key.
    case failed(String)
    /// It may or may not have charged (5xx, timeout, a dropped connection). A retry asks
    /// again with the same processor key, so it cannot charge twice.
    case unknown(String)
}

/// Stands in for a card network: waits `latency`, then fails with probability
/// `failureRate` (the original service's 30%), knowing it charged nothing.
public struct SimulatedProcessor: PaymentProcessor {
    public let failureRate: Double
    public let latency: Duration
    /// Returns a number in 0..<1; injectable so tests decide the outcome.
    private let random: @Sendable () -> Double

    public init(failureRate: Double, latency: Duration, random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.failureRate = failureRate
        self.latency = latency
        self.random = random
    }

    public func charge(_ charge: ProcessorCharge) async -> ProcessorResult {
        if latency > .zero {
            do {
                try await Task.sleep(for: latency)
            } catch {
                return .failed("processing was cancelled")
            }
        }
        if random() < failureRate {
            return .failed("simulated transient processor failure")
        }
        return .charged(chargeID: nil)
    }

    /// It keeps no record of its charges, so it cannot say; it never leaves an outcome
    /// unknown either (it fails knowing it charged nothing), so only a lost `complete`
    /// reply asks it, and such a record stays unknown until its client retries.
    public func lookup(processorKey: String) async -> ProcessorLookup {
        .unknown("the simulated processor keeps no record of its charges")
    }
}

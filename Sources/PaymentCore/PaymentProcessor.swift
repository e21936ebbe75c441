import NIOCore

/// The payment processor that moves the money. Its work runs while the key's lease is
/// held.
public protocol PaymentProcessor: Sendable {
    func charge(_ charge: ProcessorCharge) async -> ProcessorResult
    /// The same on an event loop: a future that completes on `eventLoop`. The default
    /// runs `charge(_:)` in a task; a processor that can answer on the loop implements it.
    func charge(_ charge: ProcessorCharge, on eventLoop: any EventLoop) -> EventLoopFuture<ProcessorResult>
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

import PaymentCore
import StrictJSON

/// What a processor double has done: the charges made, the keys declined and how its
/// requests were answered. `GET /charges` serves `json`; tests read the values.
public struct ProcessorLedger: Sendable, Hashable {
    public struct Charge: Sendable, Hashable {
        public var chargeID: String
        public var idempotencyKey: String
        public var reference: String
        public var amountMinor: Int64
        public var currency: String
        /// The `traceparent` header of the request that charged, if it had one.
        public var traceparent: String?

        public init(chargeID: String, idempotencyKey: String, reference: String, amountMinor: Int64, currency: String, traceparent: String? = nil) {
            self.chargeID = chargeID
            self.idempotencyKey = idempotencyKey
            self.reference = reference
            self.amountMinor = amountMinor
            self.currency = currency
            self.traceparent = traceparent
        }
    }

    public struct Decline: Sendable, Hashable {
        public var idempotencyKey: String
        public var reference: String
        public var amountMinor: Int64
        public var currency: String
        public var code: String

        public init(idempotencyKey: String, reference: String, amountMinor: Int64, currency: String, code: String) {
            self.idempotencyKey = idempotencyKey
            self.reference = reference
            self.amountMinor = amountMinor
            self.currency = currency
            self.code = code
        }
    }

    /// Requests to `POST /charges`, each counted once in `total` and once by what it was
    /// answered (`charged` counts charges made, so a charge later failed, dropped, slow or
    /// stalled is in `charged` and in its fault's count); and lookups
    /// (`GET /charges/{key}`), which are not in `total`.
    public struct RequestCounts: Sendable, Hashable {
        public var total = 0
        /// New charges made (= `charges.count`).
        public var charged = 0
        /// 200 answers for a key already charged.
        public var replayed = 0
        /// 402 answers, the first of a key and its repeats.
        public var declined = 0
        /// 409 answers.
        public var inProgress = 0
        /// 503 answers, nothing charged.
        public var failedBefore = 0
        /// 500 answers after charging.
        public var failedAfterCharge = 0
        /// Connections closed without an answer after charging.
        public var droppedAfterCharge = 0
        /// Charges answered only after the slow delay.
        public var slow = 0
        /// 401 answers.
        public var unauthorized = 0
        /// 400 and 413 answers.
        public var invalid = 0
        /// 422 answers.
        public var reused = 0
        /// Charges whose 201 head was sent at once and its body held back (`stallRate`).
        public var stalled = 0
        /// 409 answers with the absurd `Retry-After` (`absurdRetryAfterRate`), nothing
        /// charged; not in `inProgress`, which counts keys really in progress.
        public var absurdRetryAfter = 0
        /// 429 and 401 answers of the transient fault (`transient4xxRate`), nothing
        /// charged; not in `unauthorized`, which counts token failures.
        public var transient4xx = 0
        /// Every `GET /charges/{key}`, whatever its answer.
        public var lookups = 0
        /// Lookups answered 503 by the lookup fault (`lookupFailRate`).
        public var lookupsUnavailable = 0

        public init() {}
    }

    /// In the order they were made.
    public var charges: [Charge] = []
    /// One per declined key, in the order declined.
    public var declined: [Decline] = []
    public var requests = RequestCounts()

    public init() {}

    /// The `GET /charges` document, members in the contract's order.
    public var json: [UInt8] {
        var writer = JSONWriter()
        writer.object { root in
            root.field("charges", objects: charges) { object, charge in
                object.field("charge_id", string: charge.chargeID)
                object.field("idempotency_key", string: charge.idempotencyKey)
                object.field("reference", string: charge.reference)
                object.field("amount_minor", integer: charge.amountMinor)
                object.field("currency", string: charge.currency)
                object.field("traceparent", stringOrNull: charge.traceparent)
            }
            root.field("declined", objects: declined) { object, decline in
                object.field("idempotency_key", string: decline.idempotencyKey)
                object.field("reference", string: decline.reference)
                object.field("amount_minor", integer: decline.amountMinor)
                object.field("currency", string: decline.currency)
                object.field("code", string: decline.code)
            }
            root.field("requests") { counts in
                let r = requests
                let fields: [(String, Int)] = [
                    ("total", r.total), ("charged", r.charged), ("replayed", r.replayed),
                    ("declined", r.declined), ("in_progress", r.inProgress),
                    ("failed_before", r.failedBefore), ("failed_after_charge", r.failedAfterCharge),
                    ("dropped_after_charge", r.droppedAfterCharge), ("slow", r.slow),
                    ("unauthorized", r.unauthorized), ("invalid", r.invalid), ("reused", r.reused),
                    ("stalled", r.stalled), ("absurd_retry_after", r.absurdRetryAfter),
                    ("transient_4xx", r.transient4xx), ("lookups", r.lookups),
                    ("lookups_unavailable", r.lookupsUnavailable),
                ]
                for (name, value) in fields { counts.field(name, integer: Int64(value)) }
            }
        }
        return writer.bytes
    }
}

import StrictJSON

/// What became of one payment, found by its payment id (`GET /payments/{payment_id}`):
/// for a client that lost its answer, or an operator holding an id from a log line, a
/// receipt, the ledger or the processor.
public struct PaymentLookup: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable {
        /// An attempt holds the payment now, at the processor or about to be.
        case inProgress = "in_progress"
        /// The processor may have charged it; a retry or the reconciler will tell.
        case unknown
        case charged
        case declined
    }

    public let paymentID: String
    public let status: Status
    public let amountMinor: Int64
    public let currency: String
    /// Milliseconds since 1970 on Redis's clock: when `begin` created the record, and
    /// when `complete` or `markUnknown` last wrote it.
    public let createdMilliseconds: Int64
    public let updatedMilliseconds: Int64
    /// The processor's id of the charge, when it gave one (charged only).
    public let chargeID: String?
    /// Charged or declined: the stored body, byte for byte, that a replay of the key
    /// answers (the receipt, or the decline's problem document); nil before an outcome.
    public let receipt: [UInt8]?

    public init(
        paymentID: String, status: Status, amountMinor: Int64, currency: String, createdMilliseconds: Int64, updatedMilliseconds: Int64,
        chargeID: String?, receipt: [UInt8]?
    ) {
        self.paymentID = paymentID
        self.status = status
        self.amountMinor = amountMinor
        self.currency = currency
        self.createdMilliseconds = createdMilliseconds
        self.updatedMilliseconds = updatedMilliseconds
        self.chargeID = chargeID
        self.receipt = receipt
    }
}

/// A record `pay:{u}:idem:<key>` as a lookup reads it: the fields every store keeps, as
/// the Lua scripts name them. Each store fills it in its own way; what it means is
/// decided once, by `PaymentLookup(paymentID:record:of:secret:)`.
public struct PaymentRecordFields: Sendable, Hashable {
    /// `state`: inflight, unknown or done.
    public var state: String?
    /// `pid`: the payment id an unknown attempt was made under (kept while re-driven).
    public var paymentID: String?
    /// `amount` and `cur`: written by `begin` and by `markUnknown`.
    public var amountMinor: Int64?
    public var currency: String?
    /// `status` and `body`: the stored answer, once done.
    public var status: Int?
    public var body: [UInt8]?
    /// `created` (by `begin`) and `updated` (by `complete` and `markUnknown`), Redis ms.
    public var created: Int64?
    public var updated: Int64?

    public init(
        state: String? = nil, paymentID: String? = nil, amountMinor: Int64? = nil, currency: String? = nil, status: Int? = nil,
        body: [UInt8]? = nil, created: Int64? = nil, updated: Int64? = nil
    ) {
        self.state = state
        self.paymentID = paymentID
        self.amountMinor = amountMinor
        self.currency = currency
        self.status = status
        self.body = body
        self.created = created
        self.updated = updated
    }
}

extension PaymentLookup {
    /// What `record` says of the payment `paymentID`, or nil when the record is not that
    /// payment's: the index names a (tenant, user, key), and that key may since have been
    /// used for another payment (its record released and begun again under a rotated
    /// secret). So the record must carry the id: `pid` while unknown or re-driven, the
    /// stored body's `payment_id` once done; a first attempt in flight carries none, and
    /// is this id's when `secret` derives this id from the record's `payment` (tenant,
    /// user, key), computed only then. A done answer other than a receipt (200) or a
    /// decline (402) is none this service writes, and is not answered either.
    public init?(paymentID: String, record: PaymentRecordFields, of payment: UnknownPaymentReference, secret: PaymentIdentity.Secret) {
        var amountMinor = record.amountMinor
        var currency = record.currency
        var chargeID: String?
        var receipt: [UInt8]?
        let status: Status
        switch record.state {
        case "inflight"?, "unknown"?:
            guard (record.paymentID ?? PaymentIdentity(for: payment, secret: secret).paymentID) == paymentID else { return nil }
            status = record.state == "unknown" ? .unknown : .inProgress
        case "done"?:
            guard let body = record.body, let stored = StoredBody(body), stored.paymentID == paymentID else { return nil }
            switch record.status {
            case .some(200):
                status = .charged
                chargeID = stored.chargeID
            case .some(PaymentDecline.status):
                status = .declined
            default:
                return nil
            }
            receipt = body
            amountMinor = amountMinor ?? stored.amountMinor
            currency = currency ?? stored.currency
        default:
            return nil
        }
        // A record this version wrote has both times; one begun by an earlier version
        // (before `created` existed) is dated by its last write.
        guard let amountMinor, let currency, let updated = record.updated ?? record.created else { return nil }
        self.init(
            paymentID: paymentID, status: status, amountMinor: amountMinor, currency: currency, createdMilliseconds: record.created ?? updated,
            updatedMilliseconds: updated, chargeID: chargeID, receipt: receipt
        )
    }
}

/// The members a lookup needs of a stored receipt or decline (`PaymentReceipt.json`,
/// `PaymentDecline.json`): both carry `payment_id`, `amount_minor` and `currency`; a
/// receipt may carry `charge_id`.
private struct StoredBody {
    let paymentID: String
    let amountMinor: Int64?
    let currency: String?
    let chargeID: String?

    init?(_ body: [UInt8]) {
        guard case .object(let members)? = try? JSONParser.parse(body) else { return nil }
        func member(_ name: String) -> JSONValue? { members.first { $0.key == name }?.value }
        guard case .string(let paymentID)? = member("payment_id") else { return nil }
        self.paymentID = paymentID
        if case .number(let text)? = member("amount_minor") { amountMinor = Int64(text) } else { amountMinor = nil }
        if case .string(let code)? = member("currency") { currency = code } else { currency = nil }
        if case .string(let id)? = member("charge_id") { chargeID = id } else { chargeID = nil }
    }
}

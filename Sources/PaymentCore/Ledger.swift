import StrictJSON

/// What was charged to a user: the count and totals per currency (minor units), and a
/// window of the charges themselves, so a reader can check every key, not just sums.
public struct Ledger: Sendable, Hashable {
    public let userID: UserID
    public let payments: Int
    public let totals: [String: Int64]
    /// How many charges the user has in all; `charges` holds only the window asked for.
    public let chargesTotal: Int
    /// In the order charged.
    public let charges: [Charge]
    /// Payments whose outcome is unknown: the processor may hold them, this ledger does
    /// not (yet). The first `ChargeWindow.maximumLimit`, oldest first.
    public let unknown: [UnknownPayment]

    public init(userID: UserID, payments: Int, totals: [String: Int64], chargesTotal: Int = 0, charges: [Charge] = [], unknown: [UnknownPayment] = []) {
        self.userID = userID
        self.payments = payments
        self.totals = totals
        self.chargesTotal = chargesTotal
        self.charges = charges
        self.unknown = unknown
    }
}

/// A payment of the ledger's user whose outcome is unknown.
public struct UnknownPayment: Sendable, Hashable {
    public let paymentID: String
    public let idempotencyKey: String
    /// When it first became unknown, ms since 1970 (Redis's clock).
    public let sinceMilliseconds: Int64

    public init(paymentID: String, idempotencyKey: String, sinceMilliseconds: Int64) {
        self.paymentID = paymentID
        self.idempotencyKey = idempotencyKey
        self.sinceMilliseconds = sinceMilliseconds
    }
}

/// One charge as `complete` recorded it.
public struct Charge: Sendable, Hashable {
    public let paymentID: String
    /// As stored, not re-validated: the ledger shows what was charged, whatever it is.
    public let idempotencyKey: String
    public let amountMinor: Int64
    public let currency: String
    /// The processor's id of the charge; nil for the simulated processor (and charges
    /// recorded before charge ids were kept).
    public let chargeID: String?

    public init(paymentID: String, idempotencyKey: String, amountMinor: Int64, currency: String, chargeID: String? = nil) {
        self.paymentID = paymentID
        self.idempotencyKey = idempotencyKey
        self.amountMinor = amountMinor
        self.currency = currency
        self.chargeID = chargeID
    }
}

/// Which charges a ledger read returns: at most `limit`, from `offset` (0 is the first
/// charge). Charges are only ever appended, so a window names the same charges on every
/// read, and paging with `offset += charges.count` misses none and repeats none.
public struct ChargeWindow: Sendable, Hashable {
    public static let defaultLimit = 100
    /// Bounds one response: 1,000 charges with 255-character keys stay under 400 KB.
    public static let maximumLimit = 1_000

    public let offset: Int
    public let limit: Int

    /// `offset` below 0 counts as 0; `limit` is clamped to 1…`maximumLimit`.
    public init(offset: Int = 0, limit: Int = defaultLimit) {
        self.offset = max(0, offset)
        self.limit = min(max(1, limit), Self.maximumLimit)
    }

    /// The LRANGE bounds (both inclusive); the last saturates instead of overflowing.
    public var lastIndex: Int {
        let (last, overflow) = offset.addingReportingOverflow(limit - 1)
        return overflow ? Int.max : last
    }
}

extension JSONWriter.ObjectWriter {
    /// The charges array of `GET /ledger/{user_id}`, in the order given.
    public mutating func field(_ name: String, charges: some Sequence<Charge>) {
        field(name, objects: charges) { object, charge in
            object.field("payment_id", string: charge.paymentID)
            object.field("idempotency_key", string: charge.idempotencyKey)
            object.field("amount_minor", integer: charge.amountMinor)
            object.field("currency", string: charge.currency)
            if let chargeID = charge.chargeID { object.field("charge_id", string: chargeID) }
        }
    }

    /// The unknown array of `GET /ledger/{user_id}`.
    public mutating func field(_ name: String, unknown: some Sequence<UnknownPayment>) {
        field(name, objects: unknown) { object, payment in
            object.field("payment_id", string: payment.paymentID)
            object.field("idempotency_key", string: payment.idempotencyKey)
            object.field("since_ms", integer: payment.sinceMilliseconds)
        }
    }
}

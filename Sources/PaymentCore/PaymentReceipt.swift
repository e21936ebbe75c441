import StrictJSON

/// The body of a successful payment, written with a fixed field order so that the bytes
/// stored for replays are the bytes the first caller got.
public struct PaymentReceipt: Sendable, Hashable {
    public let paymentID: String
    public let request: PaymentRequest
    /// The processor's id of the charge, when it gave one (the simulated one does not).
    public let chargeID: String?
    /// RFC 3339, UTC.
    public let createdAt: String

    public init(paymentID: String, request: PaymentRequest, chargeID: String? = nil, createdAt: String) {
        self.paymentID = paymentID
        self.request = request
        self.chargeID = chargeID
        self.createdAt = createdAt
    }

    /// What `complete` writes for a charge, whoever learned of it (the attempt, or the
    /// reconciler): the 200 with a receipt made now, and the ledger entry.
    public static func completion(
        of request: PaymentRequest, identity: PaymentIdentity, chargeID: String?
    ) -> (response: StoredResponse, charge: LedgerCharge) {
        let receipt = PaymentReceipt(paymentID: identity.paymentID, request: request, chargeID: chargeID, createdAt: PaymentService.timestamp())
        return (StoredResponse(status: 200, body: receipt.json), LedgerCharge(paymentID: identity.paymentID, chargeID: chargeID))
    }

    public var json: [UInt8] {
        var writer = JSONWriter()
        writer.object { object in
            object.field("payment_id", string: paymentID)
            object.field("status", string: "succeeded")
            object.field("user_id", string: request.userID.value)
            object.field("amount_minor", integer: request.amountMinor)
            object.field("currency", string: request.currency.code)
            object.field("idempotency_key", string: request.idempotencyKey.value)
            object.field("created_at", string: createdAt)
            if let chargeID { object.field("charge_id", string: chargeID) }
            object.field("message", string: "Payment processed")
        }
        return writer.bytes
    }
}

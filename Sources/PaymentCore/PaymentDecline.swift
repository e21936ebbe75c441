import StrictJSON

/// A processor's decline as the client sees it, on the first answer and every replay: an
/// RFC 9457 problem (402) whose body is stored with the key like a receipt.
public struct PaymentDecline: Sendable, Hashable {
    public let paymentID: String
    public let request: PaymentRequest
    /// The processor's code (`card_declined`, …) and message, passed on as they came.
    public let code: String
    public let message: String

    public init(paymentID: String, request: PaymentRequest, code: String, message: String) {
        self.paymentID = paymentID
        self.request = request
        self.code = code
        self.message = message
    }

    public static let status = 402

    public var json: [UInt8] {
        var writer = JSONWriter()
        writer.object { object in
            object.field("type", string: "/problems/payment-declined")
            object.field("title", string: "Payment declined")
            object.field("status", integer: Int64(Self.status))
            object.field("detail", string: "the processor declined the payment (\(code)): \(message); nothing was charged, "
                + "and this key keeps this answer: a new attempt needs a new idempotency key")
            object.field("payment_id", string: paymentID)
            object.field("decline_code", string: code)
            object.field("user_id", string: request.userID.value)
            object.field("amount_minor", integer: request.amountMinor)
            object.field("currency", string: request.currency.code)
            object.field("idempotency_key", string: request.idempotencyKey.value)
        }
        return writer.bytes
    }
}

import Hummingbird
import HummingbirdCore
import PaymentCore
import StrictJSON

/// `GET /payments/{payment_id}`: what became of one payment, for a client that lost its
/// answer or an operator holding an id from a log line, a receipt, the ledger or the
/// processor. Scoped to the caller's tenant like `/pay` and `/ledger`: another tenant's
/// id answers exactly as an id that does not exist, so ids cannot be probed across
/// tenants.
struct PaymentLookupController: Sendable {
    let store: any IdempotencyStore
    /// Derives a first attempt's id from its key (`PaymentLookup`): the service's own.
    let secret: PaymentIdentity.Secret

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/payments/{payment_id}", use: lookup)
    }

    @Sendable func lookup(_ request: Request, context: AppRequestContext) async throws -> Response {
        let paymentID = try context.parameters.require("payment_id")
        // Checked before Redis is asked: text of any other form cannot name a payment.
        guard PaymentIdentity.isPaymentID(paymentID) else {
            throw Problem(.badRequest, slug: "invalid-payment-id", title: "Invalid payment id",
                          detail: "a payment id is pay_ followed by 32 lower-case hex digits")
        }
        let found: PaymentLookup?
        do {
            found = try await store.lookup(paymentID: paymentID, tenant: context.tenant, secret: secret)
        } catch {
            throw Problem.unavailable("the payment could not be read: Redis is unavailable")
        }
        guard let found else {
            throw Problem(.notFound, slug: "payment-not-found", title: "Payment not found",
                          detail: "no payment with this id is known here: none was made under it, or it is past its retention")
        }
        return PaymentResponses.json(Self.body(found))
    }

    static func body(_ payment: PaymentLookup) -> [UInt8] {
        var writer = JSONWriter()
        writer.object { object in
            object.field("payment_id", string: payment.paymentID)
            object.field("status", string: payment.status.rawValue)
            object.field("amount_minor", integer: payment.amountMinor)
            object.field("currency", string: payment.currency)
            object.field("created_at", string: Timestamp.format(milliseconds: payment.createdMilliseconds))
            object.field("updated_at", string: Timestamp.format(milliseconds: payment.updatedMilliseconds))
            object.field("charge_id", stringOrNull: payment.chargeID)
            // The stored body as a replay answers it, byte for byte: it was parsed as JSON
            // when the store read it (PaymentLookup), so it is one JSON value.
            object.field("receipt", json: payment.receipt ?? JSONWriter.null)
        }
        return writer.bytes
    }
}

import PaymentCore
import StrictJSON

/// What the body of an answer to `POST /pay` says about the payment beyond its status:
/// the 200 receipt's `payment_id`, a 402 decline's `payment_id` and `decline_code`, a 503
/// `/problems/outcome-unknown`'s `payment_id`. A body that is not a JSON object (or an
/// answer with none) says nothing; the status alone still decides what the copy does.
struct PaymentAnswer: Sendable, Hashable {
    static let outcomeUnknown = "/problems/outcome-unknown"
    /// A 500 that says the processor refused the attempt and nothing was charged.
    static let processorFailed = "/problems/processor-failed"

    var paymentID: String?
    var declineCode: String?
    /// A problem document's `type`.
    var problemType: String?
}

extension PaymentAnswer {
    init(_ body: [UInt8]) {
        // Bounded like the server bounds requests: an answer is a few fields.
        guard body.first == UInt8(ascii: "{"), case .object(let fields)? = try? JSONParser.parse(body, maximumMembers: 64) else { return }
        func string(_ name: String) -> String? {
            if case .string(let value)? = fields.first(where: { $0.key == name })?.value, !value.isEmpty { return value }
            return nil
        }
        paymentID = string("payment_id")
        declineCode = string("decline_code")
        problemType = string("type")
    }
}

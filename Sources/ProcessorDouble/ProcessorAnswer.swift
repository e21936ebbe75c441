import PaymentCore
import StrictJSON

/// The answers of the processor contract: a status, a JSON body and, for some faults, a
/// `Retry-After` header.
struct ProcessorAnswer: Sendable, Hashable {
    var status: Int
    var body: [UInt8]
    var contentType = "application/json"
    /// Sent verbatim: the faults need values no well-behaved processor sends.
    var retryAfter: String?

    static func charge(_ chargeID: String, created: Bool) -> ProcessorAnswer {
        var writer = JSONWriter()
        writer.object { $0.field("charge_id", string: chargeID) }
        return ProcessorAnswer(status: created ? 201 : 200, body: writer.bytes)
    }

    /// The lookup's 200: what was charged under the key.
    static func lookup(chargeID: String, amountMinor: Int64, currency: String, reference: String) -> ProcessorAnswer {
        var writer = JSONWriter()
        writer.object { object in
            object.field("charge_id", string: chargeID)
            object.field("amount_minor", integer: amountMinor)
            object.field("currency", string: currency)
            object.field("reference", string: reference)
        }
        return ProcessorAnswer(status: 200, body: writer.bytes)
    }

    static func error(_ status: Int, code: String, message: String) -> ProcessorAnswer {
        var writer = JSONWriter()
        writer.object { object in
            object.field("code", string: code)
            object.field("message", string: message)
        }
        return ProcessorAnswer(status: status, body: writer.bytes)
    }

    static let declined = error(402, code: "card_declined", message: "the card was declined")
    static let inProgress = error(409, code: "in_progress", message: "a request with this Idempotency-Key is still being worked on")
    static let reused = error(422, code: "idempotency_key_reused", message: "this Idempotency-Key was used with another amount or currency")
    static let unauthorized = error(401, code: "unauthorized", message: "send Authorization: Bearer <token>")
    static let tooLarge = error(413, code: "payload_too_large", message: "the body is larger than \(ChargeRequest.maximumBodyBytes) bytes")
    // Neither failure says whether it charged: a caller must not rely on the difference.
    static let failedBefore = error(503, code: "unavailable", message: "the processor is unavailable")
    static let failedAfter = error(500, code: "processor_error", message: "the processor failed")
    static let notFound = error(404, code: "not_found", message: "no such resource")
    /// A lookup of a key never charged: never seen, forgotten after a failure, or declined.
    static let nothingCharged = error(404, code: "not_found", message: "nothing was charged under this key")
    /// `Int64.max` seconds (about 292 billion years): a caller that sleeps on it never
    /// retries, one that adds it to a clock overflows.
    static let absurdInProgress = {
        var answer = inProgress
        answer.retryAfter = String(Int64.max)
        return answer
    }()
    /// A negative `Retry-After`, which RFC 9110 does not allow: a caller must not wait on it.
    static let rateLimited = {
        var answer = error(429, code: "rate_limited", message: "too many requests; nothing was done")
        answer.retryAfter = "-1"
        return answer
    }()
    static let methodNotAllowed = error(405, code: "method_not_allowed", message: "method not allowed")

    static func invalid(_ message: String) -> ProcessorAnswer {
        error(400, code: "invalid_request", message: message)
    }

    static let healthy = ProcessorAnswer(status: 200, body: Array("ok".utf8), contentType: "text/plain")
}

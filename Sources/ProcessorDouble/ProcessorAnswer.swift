import PaymentCore

/// The answers of the processor contract: a status and a JSON body.
struct ProcessorAnswer: Sendable, Hashable {
    var status: Int
    var body: [UInt8]
    var contentType = "application/json"

    static func charge(_ chargeID: String, created: Bool) -> ProcessorAnswer {
        var writer = JSONWriter()
        writer.object { $0.field("charge_id", string: chargeID) }
        return ProcessorAnswer(status: created ? 201 : 200, body: writer.bytes)
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
    static let methodNotAllowed = error(405, code: "method_not_allowed", message: "method not allowed")

    static func invalid(_ message: String) -> ProcessorAnswer {
        error(400, code: "invalid_request", message: message)
    }

    static let healthy = ProcessorAnswer(status: 200, body: Array("ok".utf8), contentType: "text/plain")
}

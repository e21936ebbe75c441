import HTTPTypes
import Logging
import NIOCore
import PaymentCore

/// `POST /pay`, served by `FastRouteHandler` on the connection's event loop: the checks of
/// the request, the payment, and what is recorded and answered for it.
struct PaymentEndpoint: Sendable {
    let service: PaymentService
    let maxBodyBytes: Int
    let metrics: PaymentMetrics

    /// The checks that need no body: its media type and declared size. A declared
    /// oversize body is refused before any of it is read.
    func checkHead(_ head: HTTPRequest) -> Problem? {
        if let contentType = head.headerFields[.contentType], !Self.isJSON(contentType) {
            return Problem(.unsupportedMediaType, slug: "unsupported-media-type", title: "Unsupported media type",
                           detail: "send the body as application/json")
        }
        if let length = head.headerFields[.contentLength].flatMap(Int.init), length > maxBodyBytes {
            return tooLarge
        }
        return nil
    }

    var tooLarge: Problem {
        Problem(.contentTooLarge, slug: "body-too-large", title: "Content too large",
                detail: "the request body is larger than \(maxBodyBytes) bytes")
    }

    /// The payment the body and the head describe, for `tenant`.
    func parse(body: ByteBuffer, head: HTTPRequest, tenant: Tenant?) -> Result<PaymentRequest, Problem> {
        do throws(PaymentRequestError) {
            var payment = try PaymentRequest.parse(
                body: Array(body.readableBytesView),
                // Every value, not `headerFields[name]`, which joins repeated lines with ", ".
                idempotencyKeyHeaders: head.headerFields[values: .idempotencyKey]
            )
            payment.tenant = tenant
            return .success(payment)
        } catch {
            return .failure(Problem(error))
        }
    }

    /// A request refused before the payment: counted as `invalid`, logged with the reason
    /// only (never the body, which may hold anything).
    func rejected(_ problem: Problem, logger: Logger) {
        metrics.recordInvalid()
        logger.info("payment rejected", metadata: ["outcome": "invalid", "error": "\(problem)"])
    }

    /// What a payment's outcome is answered with, once recorded in the metrics and the log.
    func answer(
        _ outcome: PaymentOutcome, of payment: PaymentRequest, logger: Logger, requestID: String, since start: ContinuousClock.Instant
    ) -> HTTPAnswer {
        metrics.record(outcome)
        log(outcome, of: payment, logger: logger, since: start)
        return PaymentResponses.answer(for: outcome, requestID: requestID)
    }

    private func log(_ outcome: PaymentOutcome, of payment: PaymentRequest, logger: Logger, since start: ContinuousClock.Instant) {
        guard logger.logLevel <= .info else { return }
        var metadata: Logger.Metadata = [
            "user_id": .string(payment.userID.value),
            "idempotency_key": .string(payment.idempotencyKey.value),
            "outcome": .string(outcome.label),
            "duration_ms": .stringConvertible((ContinuousClock.now - start).milliseconds),
        ]
        switch outcome {
        case .unavailable(let reason), .processorFailed(let reason, _):
            metadata["error"] = .string(reason)
        case .outcomeUnknown(let unknown):
            metadata["error"] = .string(unknown.reason)
        default: break
        }
        if let tenant = payment.tenant { metadata["tenant"] = .string(tenant.name) }
        logger.info("payment", metadata: metadata)
    }

    /// `application/json`, any `+json` type, with or without parameters. Read byte by
    /// byte (every payment asks): the media type before any `;`, without the spaces and
    /// tabs around it, in any case.
    static func isJSON(_ contentType: String) -> Bool {
        var mediaType = contentType.utf8.prefix { $0 != UInt8(ascii: ";") }[...]
        let blank: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        while let first = mediaType.first, blank(first) { mediaType = mediaType.dropFirst() }
        while let last = mediaType.last, blank(last) { mediaType = mediaType.dropLast() }
        func lowercased(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }
        func hasPrefix(_ text: String) -> Bool {
            mediaType.count >= text.utf8.count && zip(mediaType, text.utf8).allSatisfy { lowercased($0) == $1 }
        }
        func hasSuffix(_ text: String) -> Bool {
            mediaType.count >= text.utf8.count && zip(mediaType.suffix(text.utf8.count), text.utf8).allSatisfy { lowercased($0) == $1 }
        }
        let json = "application/json"
        return (mediaType.count == json.utf8.count && hasPrefix(json)) || (hasPrefix("application/") && hasSuffix("+json"))
    }
}

import Foundation
import Hummingbird
import Logging
import PaymentCore

/// `POST /pay` (the ledger is LedgerController's).
struct PaymentController: Sendable {
    let service: PaymentService
    let maxBodyBytes: Int
    let metrics: PaymentMetrics

    func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/pay", use: pay)
    }

    @Sendable func pay(_ request: Request, context: AppRequestContext) async throws -> Response {
        let start = ContinuousClock.now
        let payment: PaymentRequest
        do {
            payment = try await parse(request, tenant: context.tenant)
        } catch {
            metrics.recordInvalid()
            // The reason only: never the body, which may hold anything.
            context.logger.info("payment rejected", metadata: ["outcome": "invalid", "error": "\(error)"])
            throw error
        }
        let outcome = await service.pay(payment)
        metrics.record(outcome)
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
        context.logger.info("payment", metadata: metadata)
        return PaymentResponses.response(for: outcome, requestID: context.requestID)
    }

    private func parse(_ request: Request, tenant: Tenant?) async throws -> PaymentRequest {
        if let contentType = request.headers[.contentType], !Self.isJSON(contentType) {
            throw Problem(.unsupportedMediaType, slug: "unsupported-media-type", title: "Unsupported media type",
                          detail: "send the body as application/json")
        }
        let tooLarge = Problem(.contentTooLarge, slug: "body-too-large", title: "Content too large",
                               detail: "the request body is larger than \(maxBodyBytes) bytes")
        // Refuse a declared oversize body before reading any of it.
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes {
            throw tooLarge
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: maxBodyBytes)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw tooLarge
        }
        var payment = try PaymentRequest.parse(
            body: Array(body.readableBytesView),
            // Every value, not `headers[name]`, which joins repeated lines with ", ".
            idempotencyKeyHeaders: request.headers[values: .idempotencyKey]
        )
        payment.tenant = tenant
        return payment
    }

    /// `application/json`, any `+json` type, with or without parameters.
    static func isJSON(_ contentType: String) -> Bool {
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        } ?? ""
        return mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json"))
    }
}

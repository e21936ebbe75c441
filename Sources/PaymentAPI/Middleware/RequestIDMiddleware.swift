import HTTPTypes
import Hummingbird
import Logging
import PaymentCore

/// Keeps a sane `X-Request-ID` from the client or makes one, puts it in the logger's
/// metadata and echoes it on the response.
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let requestID = Self.requestID(from: request.headers[.xRequestID])
        context.requestID = requestID
        context.logger[metadataKey: "request_id"] = .string(requestID)
        // Hummingbird's own per-request id would be a second, different id on every line.
        context.logger[metadataKey: "hb.request.id"] = nil
        var response = try await next(request, context)
        response.headers[.xRequestID] = requestID
        return response
    }

    /// The client's id if sane, else a new one: for both paths.
    static func requestID(from header: String?) -> String {
        header.flatMap(acceptable) ?? UniqueToken.next()
    }

    /// Up to 128 visible ASCII characters: anything else could break log lines or headers.
    static func acceptable(_ value: String) -> String? {
        guard !value.isEmpty, value.utf8.count <= 128, value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return value
    }
}

extension HTTPField.Name {
    static let xRequestID = Self("X-Request-ID")!
    static let idempotencyKey = Self("Idempotency-Key")!
    static let idempotentReplayed = Self("Idempotent-Replayed")!
    static let rateLimitPolicy = Self("RateLimit-Policy")!
    static let rateLimit = Self("RateLimit")!
}

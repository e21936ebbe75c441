import Hummingbird
import PaymentCore

/// Maps each payment outcome to its status, headers and body (DESIGN.md's table).
enum PaymentResponses {
    static func response(for outcome: PaymentOutcome) throws -> Response {
        switch outcome {
        case .succeeded(let stored, let rateLimit):
            return stored.response(rateLimit: rateLimit)
        case .replayed(let stored, let rateLimit):
            var response = stored.response(rateLimit: rateLimit)
            response.headers[.idempotentReplayed] = "true"
            return response
        case .inFlight(let retryAfter):
            throw Problem(.conflict, slug: "in-flight", title: "Request in flight",
                          detail: "a request with this idempotency key is being processed; retry after it finishes",
                          headers: [.retryAfter: seconds(min(retryAfter, 1_000))])
        case .fingerprintMismatch:
            throw Problem(.unprocessableContent, slug: "idempotency-key-reused", title: "Idempotency key reused",
                          detail: "this idempotency key was already used with another amount or currency")
        case .rateLimited(let status, let retryAfter):
            var headers = rateLimitHeaders(status)
            headers[.retryAfter] = seconds(retryAfter)
            throw Problem(.tooManyRequests, slug: "rate-limited", title: "Too many requests",
                          detail: "the \(status.policy.name) rate limit of \(status.policy.capacity) requests is used up",
                          headers: headers)
        case .processorFailed(let message, let keyReleased):
            let key = keyReleased
                ? "the key was released, so a retry may succeed"
                : "the key could not be released: it stays locked until its lease ends (a retry gets 409 until then)"
            throw Problem(.internalServerError, slug: "processor-failed", title: "Payment processor failed",
                          detail: "\(message); nothing was charged and \(key)")
        case .outcomeUnknown:
            // Never "nothing was charged": the processor did charge, and only Redis knows
            // whether the payment was recorded. The same key tells the client which.
            throw Problem(.serviceUnavailable, slug: "outcome-unknown", title: "Payment outcome unknown",
                          detail: "the payment was processed but recording it could not be confirmed, so it may or may not "
                              + "have been charged; retry with the same idempotency key: it returns the payment if it was "
                              + "recorded, and runs it once if it was not",
                          headers: [.retryAfter: "1"])
        case .leaseLost:
            throw Problem.unavailable("processing outlived its lock; nothing was charged by this attempt, retry with the same key")
        case .unavailable:
            throw Problem.unavailable("the idempotency store is unavailable; nothing was charged, retry with the same key")
        }
    }

    static func json(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy: "user";q=10;w=1` and
    /// `RateLimit: "user";r=9;t=1` (quota, window, remaining, seconds until full).
    static func rateLimitHeaders(_ status: RateLimitStatus) -> HTTPFields {
        let name = status.policy.name
        return [
            .rateLimitPolicy: "\"\(name)\";q=\(status.policy.capacity);w=\(status.policy.windowSeconds)",
            .rateLimit: "\"\(name)\";r=\(status.remaining);t=\(seconds(status.resetMilliseconds))",
        ]
    }

    /// Whole seconds, rounded up, at least 1: Retry-After takes no fractions.
    static func seconds(_ milliseconds: Int) -> String {
        String(max(1, (milliseconds + 999) / 1000))
    }
}

extension StoredResponse {
    func response(rateLimit: RateLimitStatus?) -> Response {
        var response = PaymentResponses.json(body, status: HTTPResponse.Status(code: status))
        if let rateLimit {
            response.headers.append(contentsOf: PaymentResponses.rateLimitHeaders(rateLimit))
        }
        return response
    }
}

import Hummingbird
import PaymentCore

/// Every payment outcome's answer — status, headers and body (DESIGN.md's table) — in one
/// switch: a client's 409 or 503 is read here and nowhere else. Problems are written as
/// problem+json with the request's id, as ProblemMiddleware writes every other error.
enum PaymentResponses {
    static func answer(for outcome: PaymentOutcome, requestID: String) -> HTTPAnswer {
        switch outcome {
        case .succeeded(let stored, let rateLimit):
            return stored.answer(rateLimit: rateLimit)
        case .declined(let stored, let rateLimit):
            return stored.answer(rateLimit: rateLimit)
        case .replayed(let stored, let rateLimit):
            var answer = stored.answer(rateLimit: rateLimit)
            answer.headers[.idempotentReplayed] = "true"
            return answer
        case .inFlight(let retryAfter):
            return Problem(.conflict, slug: "in-flight", title: "Request in flight",
                           detail: "a request with this idempotency key is being processed; retry after it finishes",
                           headers: [.retryAfter: seconds(min(retryAfter, 1_000))])
                .answer(requestID: requestID)
        case .fingerprintMismatch:
            return Problem(.unprocessableContent, slug: "idempotency-key-reused", title: "Idempotency key reused",
                           detail: "this idempotency key was already used with another amount or currency")
                .answer(requestID: requestID)
        case .rateLimited(let status, let retryAfter):
            var headers = rateLimitHeaders(status)
            headers[.retryAfter] = seconds(retryAfter)
            return Problem(.tooManyRequests, slug: "rate-limited", title: "Too many requests",
                           detail: "the \(status.policy.name) rate limit of \(status.policy.capacity) requests is used up",
                           headers: headers)
                .answer(requestID: requestID)
        case .processorFailed(let message, let keyReleased):
            let key = keyReleased
                ? "the key was released, so a retry may succeed"
                : "the key could not be released: it stays locked until its lease ends (a retry gets 409 until then)"
            return Problem(.internalServerError, slug: "processor-failed", title: "Payment processor failed",
                           detail: "\(message); this attempt charged nothing, no earlier attempt is in doubt, and \(key)")
                .answer(requestID: requestID)
        case .replicasMissing(let shortfall):
            // Refused before the record was read: this request charged nothing, but an
            // earlier attempt with the key may have (an outcome-unknown): say only that.
            return Problem.unavailable("only \(shortfall.acknowledged) of the \(shortfall.required) Redis replicas required are in sync, "
                + "so a payment could not be acknowledged; this request was refused before anything was read or charged "
                + "(an earlier attempt with this key, if any, stays as it was); retry with the same key")
                .answer(requestID: requestID)
        case .outcomeUnknown(let unknown):
            return outcomeUnknown(unknown).answer(requestID: requestID)
        case .leaseLost:
            // Not "nothing was charged": the processor was asked, with the payment's
            // processor key, which is what keeps the retry from charging twice.
            return Problem.unavailable("processing outlived its lock, so this attempt recorded nothing; retry with the same key: "
                + "the processor is asked again with the same processor key, so it charges at most once")
                .answer(requestID: requestID)
        case .unavailable:
            return Problem.unavailable("the idempotency store is unavailable; nothing was charged, retry with the same key")
                .answer(requestID: requestID)
        }
    }

    /// Never "nothing was charged": only a retry with the same key can tell.
    static func outcomeUnknown(_ unknown: UnknownOutcome) -> Problem {
        let what: String
        var retryAfter = 1
        switch unknown.cause {
        case .recordUnconfirmed:
            what = "the payment was processed but recording it could not be confirmed"
        case .notReplicated(let shortfall):
            what = "the payment is recorded, but only \(shortfall.acknowledged) of the \(shortfall.required) Redis replicas "
                + "required confirmed it in time, so a failover could still lose it"
            retryAfter = 2
        case .processor(_, let recorded):
            what = "the processor did not say whether it charged"
                + (recorded
                    ? "; the payment is kept as unknown and the service asks the processor by itself"
                    : ", and that could not be recorded: a retry gets 409 until the attempt's lease ends")
        }
        return Problem(.serviceUnavailable, slug: "outcome-unknown", title: "Payment outcome unknown",
                       detail: what + "; it may or may not have been charged. Retry with the same idempotency key and the "
                           + "same payload: it returns the payment if it was recorded, and otherwise asks the processor again "
                           + "with the same processor key, so it is never charged twice; another amount or currency with "
                           + "this key is refused (422)",
                       headers: [.retryAfter: String(retryAfter)],
                       members: [("payment_id", unknown.paymentID)])
    }

    static func json(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        HTTPAnswer.json(bytes, status: status).response
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
    func answer(rateLimit: RateLimitStatus?) -> HTTPAnswer {
        var answer = HTTPAnswer.json(body, status: HTTPResponse.Status(code: status))
        // A stored decline is a problem document (PaymentDecline), like every error here.
        if status >= 400 { answer.headers[.contentType] = "application/problem+json" }
        if let rateLimit {
            answer.headers.append(contentsOf: PaymentResponses.rateLimitHeaders(rateLimit))
        }
        return answer
    }
}

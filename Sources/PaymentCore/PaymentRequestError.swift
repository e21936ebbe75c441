/// Why a payment request was refused before anything was stored: each becomes a 400
/// problem+json whose `detail` is `description`.
public enum PaymentRequestError: Error, Hashable, Sendable, CustomStringConvertible {
    case malformedJSON(String)
    case notAnObject
    case unknownField(String)
    case missingField(String)
    case wrongType(field: String, expected: String)
    case invalidAmount(String)
    case unknownCurrency(String)
    case invalidUserID(String)
    case invalidIdempotencyKey(String)
    case missingIdempotencyKey
    case conflictingIdempotencyKeys
    /// More than one `Idempotency-Key` header: joined, they would name another key.
    case repeatedIdempotencyKeyHeader(count: Int)

    public var description: String {
        switch self {
        case .malformedJSON(let reason): "request body is not valid JSON: \(reason)"
        case .notAnObject: "request body must be a JSON object"
        case .unknownField(let name): "unknown field \"\(name)\""
        case .missingField(let name): "missing field \"\(name)\""
        case .wrongType(let field, let expected): "\"\(field)\" must be \(expected)"
        case .invalidAmount(let reason): "\"amount\" \(reason)"
        case .unknownCurrency(let code): "\"currency\" \"\(code)\" is not a supported ISO 4217 code"
        case .invalidUserID(let reason): "\"user_id\" \(reason)"
        case .invalidIdempotencyKey(let reason): "idempotency key \(reason)"
        case .missingIdempotencyKey: "an idempotency key is required: send the Idempotency-Key header or the idempotency_key field"
        case .conflictingIdempotencyKeys: "the Idempotency-Key header and the idempotency_key field differ"
        case .repeatedIdempotencyKeyHeader(let count): "send the Idempotency-Key header once, not \(count) times"
        }
    }

    /// A stable, URL-safe name for the problem type.
    public var slug: String {
        switch self {
        case .malformedJSON, .notAnObject: "malformed-request"
        case .unknownField, .missingField, .wrongType: "invalid-field"
        case .invalidAmount: "invalid-amount"
        case .unknownCurrency: "unknown-currency"
        case .invalidUserID: "invalid-user-id"
        case .invalidIdempotencyKey, .missingIdempotencyKey, .conflictingIdempotencyKeys, .repeatedIdempotencyKeyHeader:
            "invalid-idempotency-key"
        }
    }
}

import StrictJSON

/// A validated payment request: what the flow works on.
public struct PaymentRequest: Sendable, Hashable {
    public let userID: UserID
    public let amountMinor: Int64
    public let currency: Currency
    public let idempotencyKey: IdempotencyKey
    /// The authenticated tenant; nil while authentication is off. It scopes every key.
    public var tenant: Tenant?

    public init(userID: UserID, amountMinor: Int64, currency: Currency, idempotencyKey: IdempotencyKey, tenant: Tenant? = nil) {
        self.userID = userID
        self.amountMinor = amountMinor
        self.currency = currency
        self.idempotencyKey = idempotencyKey
        self.tenant = tenant
    }

    /// SHA-256 over the canonical (user, amount in minor units, currency): a retry with the
    /// same key must carry the same fingerprint, or it is a different payment.
    public var fingerprint: String {
        Fingerprint.of(userID: userID, amountMinor: amountMinor, currency: currency)
    }

    static let fields: Set<String> = ["user_id", "amount", "currency", "idempotency_key"]

    /// Parses and validates a `POST /pay` body with every `Idempotency-Key` header value
    /// as received. More than one is refused: HTTP would join them with a comma into a
    /// key the client never sent, so a retry that sends the header once would differ.
    public static func parse(body: [UInt8], idempotencyKeyHeaders headers: [String]) throws(PaymentRequestError) -> PaymentRequest {
        guard headers.count <= 1 else { throw .repeatedIdempotencyKeyHeader(count: headers.count) }
        return try parse(body: body, idempotencyKeyHeader: headers.first)
    }

    /// Parses and validates a `POST /pay` body. `headerKey` is the raw `Idempotency-Key`
    /// header, if one was sent.
    public static func parse(body: [UInt8], idempotencyKeyHeader headerKey: String?) throws(PaymentRequestError) -> PaymentRequest {
        let json: JSONValue
        do {
            // A payment has four members. One more is let through so that a misspelt
            // field is named as unknown; at the one after, the parser stops reading.
            json = try JSONParser.parse(body, maximumMembers: fields.count + 1)
        } catch {
            throw .malformedJSON(error.description)
        }
        guard case .object(let members) = json else { throw .notAnObject }
        // Unknown fields are rejected, not ignored: a misspelt "ammount" must not turn
        // into a payment of something else.
        if let unknown = members.first(where: { !fields.contains($0.key) }) {
            throw .unknownField(unknown.key)
        }
        func member(_ name: String) -> JSONValue? {
            members.first(where: { $0.key == name })?.value
        }

        guard let userValue = member("user_id") else { throw .missingField("user_id") }
        guard case .string(let userText) = userValue else { throw .wrongType(field: "user_id", expected: "a string") }
        let userID = try UserID(userText)

        var currency = Currency.usd
        if let currencyValue = member("currency"), currencyValue != .null {
            guard case .string(let code) = currencyValue else { throw .wrongType(field: "currency", expected: "a string") }
            guard let known = Currency(code: code) else { throw .unknownCurrency(code) }
            currency = known
        }

        guard let amountValue = member("amount") else { throw .missingField("amount") }
        guard case .number(let amountText) = amountValue else { throw .wrongType(field: "amount", expected: "a JSON number") }
        let amountMinor = try Money.minorUnits(fromJSONNumber: amountText, currency: currency)

        var bodyKey: IdempotencyKey?
        if let keyValue = member("idempotency_key"), keyValue != .null {
            guard case .string(let keyText) = keyValue else { throw .wrongType(field: "idempotency_key", expected: "a string") }
            bodyKey = try IdempotencyKey(keyText)
        }
        let fromHeader = try headerKey.map { header throws(PaymentRequestError) in try IdempotencyKey(header: header) }
        let key: IdempotencyKey
        switch (fromHeader, bodyKey) {
        case (nil, nil): throw .missingIdempotencyKey
        case (let header?, let body?):
            guard header == body else { throw .conflictingIdempotencyKeys }
            key = header
        case (let header?, nil): key = header
        case (nil, let body?): key = body
        }
        return PaymentRequest(userID: userID, amountMinor: amountMinor, currency: currency, idempotencyKey: key)
    }
}

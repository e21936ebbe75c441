import PaymentCore
import StrictJSON

/// A `POST /charges` body as the contract has it, validated strictly: a double that
/// accepted more than payment-api may send would hide a client bug.
struct ChargeRequest: Sendable, Hashable {
    var amountMinor: Int64
    var currency: Currency
    var reference: String
    /// The W3C `traceparent` header, as received: kept with the charge so a test can see
    /// that the caller's trace reached the processor. Not part of the charge's identity.
    var traceparent: String?

    /// Larger bodies are answered 413 (a charge body is under 200 bytes).
    static let maximumBodyBytes = 64 * 1024

    /// A `POST /charges` after its token check: the `Idempotency-Key` and `Content-Type`
    /// header lines (each value as received) and the body, checked in that order. The one
    /// entry point of the validation, for the handler and for the FuzzChargeRequest target.
    static func parse(
        idempotencyKeyHeaders: [String], contentTypeHeaders: [String], body: [UInt8]
    ) throws(InvalidRequest) -> (key: String, request: ChargeRequest) {
        let key = try idempotencyKey(idempotencyKeyHeaders)
        try checkContentType(contentTypeHeaders)
        return (key, try ChargeRequest(body: body))
    }

    /// The body's three members, or a message saying what is wrong (answered 400).
    init(body: [UInt8]) throws(InvalidRequest) {
        let value: JSONValue
        do {
            value = try JSONParser.parse(body, maximumMembers: 3)
        } catch {
            throw InvalidRequest("the body is not valid JSON: \(error)")
        }
        guard case .object(let members) = value else {
            throw InvalidRequest("the body must be a JSON object, got \(value.kindName)")
        }
        var amount: Int64?
        var currency: Currency?
        var reference: String?
        for (key, member) in members {
            switch key {
            case "amount_minor": amount = try Self.amount(member)
            case "currency": currency = try Self.currency(member)
            case "reference": reference = try Self.reference(member)
            default: throw InvalidRequest("unknown member \"\(key)\"")
            }
        }
        guard let amount else { throw InvalidRequest("amount_minor is missing") }
        guard let currency else { throw InvalidRequest("currency is missing") }
        guard let reference else { throw InvalidRequest("reference is missing") }
        let maximum = Money.maximumMajorUnits * Self.power(of10: currency.minorUnitDigits)
        guard amount <= maximum else {
            throw InvalidRequest("amount_minor must be at most \(maximum) for \(currency.code)")
        }
        self.amountMinor = amount
        self.currency = currency
        self.reference = reference
    }

    /// A positive integer written as digits only: no sign, fraction or exponent, so the
    /// amount is exactly what was sent.
    private static func amount(_ value: JSONValue) throws(InvalidRequest) -> Int64 {
        guard case .number(let text) = value else {
            throw InvalidRequest("amount_minor must be a number, got \(value.kindName)")
        }
        guard text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let amount = Int64(text), amount >= 1
        else { throw InvalidRequest("amount_minor must be a positive integer in minor units, got \(text)") }
        return amount
    }

    private static func currency(_ value: JSONValue) throws(InvalidRequest) -> Currency {
        guard case .string(let code) = value else {
            throw InvalidRequest("currency must be a string, got \(value.kindName)")
        }
        guard let currency = Currency(code: code) else {
            throw InvalidRequest("currency must be a supported upper-case ISO 4217 code")
        }
        return currency
    }

    /// `pay_` and 32 lowercase hex digits, as payment-api derives it.
    private static func reference(_ value: JSONValue) throws(InvalidRequest) -> String {
        guard case .string(let reference) = value else {
            throw InvalidRequest("reference must be a string, got \(value.kindName)")
        }
        let utf8 = Array(reference.utf8)
        let isHex: (UInt8) -> Bool = { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
        guard utf8.count == 36, reference.hasPrefix("pay_"), utf8.dropFirst(4).allSatisfy(isHex) else {
            throw InvalidRequest("reference must be pay_ and 32 lowercase hex digits")
        }
        return reference
    }

    private static func power(of10 exponent: Int) -> Int64 {
        (0..<exponent).reduce(1) { value, _ in value * 10 }
    }

    /// The processor's `Idempotency-Key`: exactly one header line of 1…255 visible ASCII
    /// characters. payment-api sends `pk_` and 64 lowercase hex digits; the double takes
    /// any such key so it can serve other clients too.
    static func idempotencyKey(_ values: [String]) throws(InvalidRequest) -> String {
        guard values.count == 1, let key = values.first else {
            throw InvalidRequest(values.isEmpty ? "the Idempotency-Key header is missing" : "send one Idempotency-Key header")
        }
        guard isValidKey(key.utf8) else {
            throw InvalidRequest("Idempotency-Key must be 1 to 255 visible ASCII characters")
        }
        return key
    }

    /// 1…255 bytes of visible ASCII (0x21…0x7E): the keys the double takes, in a header
    /// or in a lookup's path.
    static func isValidKey(_ bytes: some Collection<UInt8>) -> Bool {
        (1...255).contains(bytes.count) && bytes.allSatisfy { (0x21...0x7E).contains($0) }
    }

    /// The key of `GET /charges/{key}`: the rest of the path after `/charges/` (query
    /// removed), percent-decoded (RFC 3986), so that a key with `/`, `?`, `#` or `%` can
    /// be looked up too; then the rule of `Idempotency-Key`. No `+` for space: that is
    /// form encoding, not paths.
    static func lookupKey(pathSegment: Substring) throws(InvalidRequest) -> String {
        var bytes: [UInt8] = []
        var utf8 = pathSegment.utf8[...]
        while let byte = utf8.popFirst() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = utf8.popFirst().flatMap(hexValue), let low = utf8.popFirst().flatMap(hexValue) else {
                throw InvalidRequest("the key in the path must be percent-encoded: % and two hex digits")
            }
            bytes.append(high << 4 | low)
        }
        guard isValidKey(bytes) else {
            throw InvalidRequest("the key in the path must be 1 to 255 visible ASCII characters (percent-encoded)")
        }
        // Only ASCII bytes are left, so the decoding is exact.
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// `application/json`, in ASCII case, with or without parameters such as `charset`.
    /// Over bytes: split at a `Character` `;`, a GREEK QUESTION MARK (U+037E, canonically
    /// `;`) ended the type too, and a `;` followed by a combining mark did not
    /// (FuzzChargeRequest found the first).
    static func checkContentType(_ values: [String]) throws(InvalidRequest) {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
        guard values.count == 1, let value = values.first else { throw InvalidRequest("Content-Type must be application/json") }
        let type = value.utf8.prefix { $0 != UInt8(ascii: ";") }.drop(while: isSpace)
        let trimmed = type.reversed().drop(while: isSpace).reversed()
        let lowered = trimmed.map { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) ? $0 | 0x20 : $0 }
        guard lowered.elementsEqual("application/json".utf8) else { throw InvalidRequest("Content-Type must be application/json") }
    }
}

/// Answered 400 `invalid_request` with this message.
struct InvalidRequest: Error, Hashable, Sendable {
    let message: String
    init(_ message: String) { self.message = message }
}

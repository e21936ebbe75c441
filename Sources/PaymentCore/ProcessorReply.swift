import StrictJSON

/// Reads the processor's answers (docs/processor.md's contract) as untrusted input.
///
/// Anyone between us and the processor can write these bytes, so nothing here may trap,
/// grow without bound, or pass text through unchecked: every number is parsed with
/// bounds, every identifier must match the contract's syntax, and free text is cut and
/// reduced to printable ASCII before it can reach a client, a stored body or a log line.
/// An answer outside the contract is never read as "nothing was charged".
public enum ProcessorReply {
    /// The longest body read from the processor: its answers are a few members.
    public static let maximumBodyBytes = 16_384
    /// A `Retry-After` above this is clamped to it: a processor cannot park our clients.
    public static let maximumRetryAfterSeconds = 60
    /// A `Retry-After` above this is not a delay anyone meant: it counts as absent.
    public static let absurdRetryAfterSeconds = 86_400
    /// Processor text (a decline's message) longer than this is cut.
    public static let maximumTextLength = 200
    /// `charge_id` and `code`: 1 to 64 of `[A-Za-z0-9._:-]`.
    public static let maximumIdentifierLength = 64

    /// What kind of answer it was: the `outcome` label of `processor_requests_total`.
    public enum Kind: String, CaseIterable, Sendable {
        /// 2xx: charged.
        case charged
        /// 402.
        case declined
        /// 409: still working on the key.
        case busy
        /// Another 4xx: refused, nothing charged by this request.
        case refused
        /// 5xx: may have charged.
        case serverError = "server_error"
        /// No whole answer within PROCESSOR_TIMEOUT_MS: may have charged.
        case timeout
        /// Connect failed or the connection was dropped: may have charged.
        case connectionError = "connection_error"
        /// An answer that is not the contract's.
        case invalidResponse = "invalid_response"
    }

    /// What a `POST /charges` answer means for the attempt.
    public static func charge(status: Int, retryAfter: String?, body: [UInt8]) -> (Kind, ProcessorResult) {
        let members = stringMembers(body)
        switch status {
        case 200..<300:
            // A 2xx does say "charged", but one without a usable charge_id is outside the
            // contract: not an answer to store a receipt on. The reconciler asks again.
            guard let chargeID = members?["charge_id"].flatMap(identifier) else {
                return (.invalidResponse, .unknown("a \(status) answer without a valid charge_id"))
            }
            return (.charged, .charged(chargeID: chargeID))
        case 402:
            guard let code = members?["code"].flatMap(identifier) else {
                return (.invalidResponse, .unknown("a 402 answer without a valid code"))
            }
            let message = members?["message"].map { sanitized($0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "declined"
            return (.declined, .declined(code: code, message: message))
        case 409:
            return (.busy, .busy(retryAfterMilliseconds: (retryAfterSeconds(retryAfter) ?? 1) * 1_000))
        case 400..<500:
            let code = members?["code"].flatMap(identifier).map { " \($0)" } ?? ""
            return (.refused, .failed("the processor refused the request with \(status)\(code)"))
        case 500..<600:
            return (.serverError, .unknown("the processor answered \(status)"))
        default:
            // 1xx, 3xx (redirects are not followed) or a status HTTP does not define.
            return (.invalidResponse, .unknown("the processor answered \(status), outside the contract"))
        }
    }

    /// What a `GET /charges/{processor key}` answer says.
    public static func lookup(status: Int, body: [UInt8]) -> ProcessorLookup {
        switch status {
        case 200:
            guard let members = lookupMembers(body), let chargeID = members.strings["charge_id"].flatMap(identifier),
                  let amount = members.amount, amount > 0, let currency = members.strings["currency"].flatMap(Currency.init(code:))
            else { return .unknown("a 200 lookup answer outside the contract") }
            return .charged(chargeID: chargeID, amountMinor: amount, currency: currency.code)
        case 404:
            return .notCharged
        case 409:
            return .inProgress
        default:
            return .unknown("the processor answered the lookup with \(status)")
        }
    }

    /// `Retry-After` as delta-seconds: digits only, at most `maximumRetryAfterSeconds`;
    /// nil when absent, negative, an HTTP date, or absurd (over a day, or too long to
    /// be a number at all), so the caller's default applies.
    public static func retryAfterSeconds(_ text: String?) -> Int? {
        // Optional whitespace around one number, as HTTP allows; nothing else.
        guard let parts = text.map({ $0.utf8.split(separator: UInt8(ascii: " ")) }), parts.count == 1 else { return nil }
        let digits = parts[0]
        guard digits.count <= 9, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        let seconds = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        guard seconds <= absurdRetryAfterSeconds else { return nil }
        return min(max(seconds, 1), maximumRetryAfterSeconds)
    }

    /// A processor identifier (`charge_id`, `code`) when it has the contract's syntax.
    public static func identifier(_ text: String) -> String? {
        let bytes = text.utf8
        guard !bytes.isEmpty, bytes.count <= maximumIdentifierLength, bytes.allSatisfy(isIdentifierByte) else { return nil }
        return text
    }

    /// Printable ASCII only (anything else becomes `?`), at most `maximumTextLength`
    /// characters: safe in a JSON body, a log line and a terminal.
    public static func sanitized(_ text: String, limit: Int = maximumTextLength) -> String {
        var bytes: [UInt8] = []
        for byte in text.utf8 {
            // Count characters, not bytes: a multi-byte character becomes one `?`.
            if byte & 0xC0 == 0x80 { continue }
            guard bytes.count < limit else { break }
            bytes.append(byte >= 0x20 && byte < 0x7F ? byte : UInt8(ascii: "?"))
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func isIdentifierByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }

    /// The object's members; nil when the body is not a JSON object. The parser bounds
    /// depth and member count, so a hostile body costs at most its 16 KiB.
    private static func members(_ body: [UInt8]) -> [(key: String, value: JSONValue)]? {
        guard body.count <= maximumBodyBytes, case .object(let fields)? = try? JSONParser.parse(body, maximumMembers: 16) else {
            return nil
        }
        return fields
    }

    /// The object's string members; nil when the body is not a JSON object.
    private static func stringMembers(_ body: [UInt8]) -> [String: String]? {
        members(body).map(strings)
    }

    private static func strings(_ fields: [(key: String, value: JSONValue)]) -> [String: String] {
        var strings: [String: String] = [:]
        for (name, value) in fields { if case .string(let text) = value { strings[name] = text } }
        return strings
    }

    /// A lookup's string members and its `amount_minor`: digits only (no sign, fraction
    /// or exponent), at most 18 of them so it fits.
    private static func lookupMembers(_ body: [UInt8]) -> (strings: [String: String], amount: Int64?)? {
        guard let fields = members(body) else { return nil }
        let amount = fields.first { $0.key == "amount_minor" }.flatMap { field -> Int64? in
            guard case .number(let text) = field.value, !text.isEmpty, text.utf8.count <= 18,
                  text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
            else { return nil }
            return Int64(text)
        }
        return (strings(fields), amount)
    }
}

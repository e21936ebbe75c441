import FuzzSupport
import PaymentCore
import StrictJSON

/// `PaymentRequest.parse` on an arbitrary body and `Idempotency-Key` header.
///
/// Input: the first byte chooses the form (its value modulo 3; the corpus uses the digits):
/// - `0`: no header; the rest is the body;
/// - `1`: one header (`parse(body:idempotencyKeyHeader:)`): the header runs to the first
///   LF, the body follows it;
/// - `2`: header lines (`parse(body:idempotencyKeyHeaders:)`): as `1`, with CR between
///   the values of repeated header lines.
///
/// When a request is accepted, every field obeys its documented rule, the key is the one
/// the client sent (header and body agree, a bare header has no comma), the canonical
/// re-encoding parses to the same request, and the receipt carries the same values.
/// A body the JSON parser refuses is always refused.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPaymentRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let mode = input.first else { return 0 }
    let rest = input.dropFirst()
    var headers: [String] = []
    var body = Array(rest)
    if mode % 3 != 0 {
        let end = rest.firstIndex(of: 0x0A) ?? rest.endIndex
        let headerBytes = rest[rest.startIndex..<end]
        body = end < rest.endIndex ? Array(rest[(end + 1)...]) : []
        if mode % 3 == 1 {
            headers = [String(decoding: headerBytes, as: UTF8.self)]
        } else if !headerBytes.isEmpty {
            headers = headerBytes.split(separator: 0x0D, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        }
    }

    let parsed: Result<PaymentRequest, PaymentRequestError>
    if mode % 3 == 2 {
        parsed = Result { () throws(PaymentRequestError) in try PaymentRequest.parse(body: body, idempotencyKeyHeaders: headers) }
    } else {
        parsed = Result { () throws(PaymentRequestError) in try PaymentRequest.parse(body: body, idempotencyKeyHeader: headers.first) }
    }
    guard case .success(let request) = parsed else {
        return 0
    }
    let context = "header \(headers.map(escaped)) body \(escaped(body))"
    // Parsed only for accepted requests: a refused body would only prove what it must.
    guard let json = try? JSONParser.parse(body) else {
        invariant(false, "accepted a body that JSONParser refuses: \(context)")
        return 0
    }
    invariant(headers.count <= 1, "accepted \(headers.count) Idempotency-Key header lines: \(context)")
    checkFields(request, json: json, header: headers.first, context: context)
    checkRoundTrip(request, context: context)
    checkReceipt(request, context: context)
    return 0
}

private func checkFields(_ request: PaymentRequest, json: JSONValue, header: String?, context: String) {
    guard case .object(let members) = json else {
        invariant(false, "accepted a body that is not an object: \(context)")
        return
    }
    let names: Set<[UInt8]> = [Array("user_id".utf8), Array("amount".utf8), Array("currency".utf8), Array("idempotency_key".utf8)]
    invariant(members.allSatisfy { names.contains(Array($0.key.utf8)) }, "accepted an unknown member: \(context)")
    invariant(request.tenant == nil, "parse set a tenant: \(context)")

    // user_id: 1–64 bytes of [A-Za-z0-9._:-], exactly as sent.
    let user = Array(request.userID.value.utf8)
    invariant((1...64).contains(user.count), "user id of \(user.count) bytes: \(context)")
    invariant(user.allSatisfy(isUserIDByte), "user id \(escaped(user)) has a byte outside [A-Za-z0-9._:-]: \(context)")
    invariant(json.member("user_id") == .string(request.userID.value), "user id is not the body's: \(context)")
    if case .string(let sent)? = json.member("user_id") {
        invariant(sameBytes(sent, request.userID.value), "user id is not byte for byte the body's: \(context)")
    }
    // A user named `global` is valid: the shared bucket is `pay:global:bucket`, a key no
    // user id can name (PaymentKeys; FenceTests checks it against Redis).

    // currency: three ASCII upper-case letters, a known code, exactly as sent (USD if absent).
    let code = Array(request.currency.code.utf8)
    invariant(code.count == 3 && code.allSatisfy { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) },
              "currency code \(escaped(code)) is not three ASCII upper-case letters: \(context)")
    let known = Currency(code: String(decoding: code, as: UTF8.self))
    invariant(known != nil && sameBytes(known?.code, request.currency.code) && known?.minorUnitDigits == request.currency.minorUnitDigits,
              "currency \(escaped(code)) is not the known currency of that code: \(context)")
    invariant([0, 2, 3].contains(request.currency.minorUnitDigits), "currency with \(request.currency.minorUnitDigits) minor digits: \(context)")
    switch json.member("currency") {
    case .string(let sent)?: invariant(sameBytes(sent, request.currency.code), "currency \(escaped(code)) is not the body's \(escaped(sent)): \(context)")
    case nil, .null?: invariant(request.currency == .usd, "currency without a currency member is not USD: \(context)")
    default: invariant(false, "accepted a currency that is not a string: \(context)")
    }

    // amount: > 0, at most the maximum, and exactly the body's number.
    let maximum = Money.maximumMajorUnits * power10(request.currency.minorUnitDigits)
    invariant(request.amountMinor > 0 && request.amountMinor <= maximum, "amount \(request.amountMinor) outside 1...\(maximum): \(context)")
    guard case .number(let amountText)? = json.member("amount") else {
        invariant(false, "accepted an amount that is not a number: \(context)")
        return
    }
    invariant((try? Money.minorUnits(fromJSONNumber: amountText, currency: request.currency)) == request.amountMinor,
              "amount \(request.amountMinor) is not the value of \(escaped(amountText)): \(context)")

    // idempotency key: 1–255 printable ASCII bytes, the one the client sent.
    let key = Array(request.idempotencyKey.value.utf8)
    invariant((1...255).contains(key.count), "idempotency key of \(key.count) bytes: \(context)")
    invariant(key.allSatisfy { (0x20...0x7E).contains($0) }, "idempotency key \(escaped(key)) is not printable ASCII: \(context)")
    switch json.member("idempotency_key") {
    case .string(let sent)?: invariant(sameBytes(sent, request.idempotencyKey.value), "key is not the body's: \(context)")
    case nil, .null?: invariant(header != nil, "a key with neither header nor body key: \(context)")
    default: invariant(false, "accepted a key that is not a string: \(context)")
    }
    if let header {
        let (expected, quoted) = headerValue(Array(header.utf8))
        invariant(expected == key, "key \(escaped(key)) is not the header's value \(escaped(expected)): \(context)")
        // HTTP joins repeated header lines with a comma: a bare value with one is two keys.
        invariant(quoted || !key.contains(UInt8(ascii: ",")), "accepted a bare header with a comma: \(context)")
    }
}

/// The request written as a client would send it, in each form the API accepts, must
/// parse to the same request with the same fingerprint.
private func checkRoundTrip(_ request: PaymentRequest, context: String) {
    let amount = Money.format(minorUnits: request.amountMinor, currency: request.currency)
    invariant(JSONText.isNumberText(amount), "formatted amount \(escaped(amount)) is not JSON number text: \(context)")
    let members: [(key: String, value: JSONValue)] = [
        ("user_id", .string(request.userID.value)),
        ("amount", .number(amount)),
        ("currency", .string(request.currency.code)),
        ("idempotency_key", .string(request.idempotencyKey.value)),
    ]
    let full = JSONText.bytes(of: .object(members))
    let withoutKey = JSONText.bytes(of: .object(Array(members.prefix(3))), spaced: true)
    var quotedKey = "\""
    for character in request.idempotencyKey.value {
        if character == "\"" || character == "\\" { quotedKey.append("\\") }
        quotedKey.append(character)
    }
    quotedKey.append("\"")
    var forms: [(body: [UInt8], header: String?)] = [(full, nil), (withoutKey, quotedKey), (full, " \t\(quotedKey) ")]
    let bare = request.idempotencyKey.value
    if !bare.contains(","), !bare.hasPrefix("\""), !bare.hasPrefix(" "), !bare.hasSuffix(" ") {
        forms.append((withoutKey, bare))
    }
    for form in forms {
        let again: PaymentRequest
        do {
            again = try PaymentRequest.parse(body: form.body, idempotencyKeyHeader: form.header)
        } catch {
            invariant(false, "refused its canonical form (\(error)): header \(form.header.map(escaped) ?? "none") body \(escaped(form.body)) from \(context)")
            return
        }
        invariant(again == request, "canonical form parsed to another request: \(escaped(form.body)) from \(context)")
        invariant(sameBytes(again.userID.value, request.userID.value) && sameBytes(again.currency.code, request.currency.code)
                  && sameBytes(again.idempotencyKey.value, request.idempotencyKey.value) && again.amountMinor == request.amountMinor,
                  "canonical form parsed to other bytes: \(escaped(form.body)) from \(context)")
        invariant(again.fingerprint == request.fingerprint, "canonical form has another fingerprint: \(context)")
    }
}

/// The receipt stored for replays must be JSON that says what was accepted.
private func checkReceipt(_ request: PaymentRequest, context: String) {
    let receipt = PaymentReceipt(paymentID: "pay_fuzz", request: request, createdAt: "2025-01-01T00:00:00Z").json
    guard let json = try? JSONParser.parse(receipt) else {
        invariant(false, "the receipt is not JSON: \(escaped(receipt)) from \(context)")
        return
    }
    func string(_ name: String) -> String? {
        if case .string(let text)? = json.member(name) { return text }
        return nil
    }
    invariant(sameBytes(string("user_id"), request.userID.value), "receipt user_id differs: \(escaped(receipt))")
    invariant(sameBytes(string("currency"), request.currency.code), "receipt currency differs: \(escaped(receipt))")
    invariant(sameBytes(string("idempotency_key"), request.idempotencyKey.value), "receipt idempotency_key differs: \(escaped(receipt))")
    invariant(json.member("amount_minor") == .number(String(request.amountMinor)), "receipt amount_minor differs: \(escaped(receipt))")
}

/// The key a header value names, by the rules of `IdempotencyKey(header:)` written
/// again over bytes: spaces and tabs trimmed, then a structured-field string (`\"` and
/// `\\` escapes) or a bare value. Only called for accepted requests.
private func headerValue(_ header: [UInt8]) -> (value: [UInt8], quoted: Bool) {
    let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
    let trimmed = Array(header.drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    guard trimmed.first == UInt8(ascii: "\"") else { return (trimmed, false) }
    var value: [UInt8] = []
    var escapedNext = false
    for byte in trimmed.dropFirst().dropLast() {
        if escapedNext {
            value.append(byte)
            escapedNext = false
        } else if byte == UInt8(ascii: "\\") {
            escapedNext = true
        } else {
            value.append(byte)
        }
    }
    return (value, true)
}

private func isUserIDByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
        UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "-"):
        true
    default:
        false
    }
}

private func power10(_ exponent: Int) -> Int64 {
    (0..<exponent).reduce(1) { value, _ in value * 10 }
}

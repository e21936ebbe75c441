import FuzzSupport
import PaymentCore
// @testable: ChargeRequest and BearerToken are internal (testability is on in debug builds).
@testable import ProcessorDouble
import StrictJSON

/// The processor double's validation of `POST /charges` (`BearerToken.accepts` and
/// `ChargeRequest.parse`) and of a lookup's key (`ChargeRequest.lookupKey`).
///
/// Input: header lines up to the first empty line (LF-separated; `Name: value`, the value
/// trimmed of spaces and tabs as an HTTP parser does; names in any case), then the body.
/// Only `Idempotency-Key`, `Content-Type` and `Authorization` lines count; each may appear
/// any number of times. The token is `s3cret-token`.
///
/// Each decision is checked against the contract's rules written again over bytes
/// (docs/processor.md): accepted exactly when they accept, refused for the first rule
/// that fails (key, content type, body). When accepted: the values are the body's, byte
/// for byte; the canonical body in another member order parses to the same request; the
/// key, percent-encoded in a lookup path, decodes to itself.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzChargeRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let (headers, body) = split(input)
    let keys = values(headers, "idempotency-key")
    let contentTypes = values(headers, "content-type")
    let authorizations = values(headers, "authorization")
    let context = "from \(escaped(input))"

    checkToken(authorizations, context: context)
    for key in keys {
        checkLookupKey(Substring(key), context: context)
    }

    let keyRule = keys.count == 1 && isValidKey(Array(keys[0].utf8))
    let contentTypeRule = contentTypes.count == 1 && isJSONContentType(Array(contentTypes[0].utf8))
    let bodyRule = expectedRequest(body)
    let parsed: (key: String, request: ChargeRequest)
    do {
        parsed = try ChargeRequest.parse(idempotencyKeyHeaders: keys, contentTypeHeaders: contentTypes, body: body)
    } catch {
        let message = error.message
        invariant(!message.isEmpty, "an empty message \(context)")
        invariant(!(keyRule && contentTypeRule && bodyRule != nil), "refused a request the rules accept (\(message)) \(context)")
        // The first rule that fails names the refusal (body messages may quote the body,
        // so they are told apart by the key's and the content type's exact messages).
        let keyMessages: Set = [
            "the Idempotency-Key header is missing", "send one Idempotency-Key header",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        ]
        let contentTypeMessage = "Content-Type must be application/json"
        if !keyRule {
            invariant(keyMessages.contains(message), "a bad key refused for another reason (\(message)) \(context)")
        } else if !contentTypeRule {
            invariant(message == contentTypeMessage, "a bad content type refused for another reason (\(message)) \(context)")
        } else {
            invariant(!keyMessages.contains(message) && message != contentTypeMessage, "a bad body refused for another reason (\(message)) \(context)")
        }
        return 0
    }
    invariant(keyRule, "accepted Idempotency-Key lines \(keys.map(escaped)) \(context)")
    invariant(contentTypeRule, "accepted Content-Type lines \(contentTypes.map(escaped)) \(context)")
    guard let expected = bodyRule else {
        invariant(false, "accepted a body the rules refuse \(context)")
        return 0
    }
    invariant(sameBytes(parsed.key, keys[0]), "the key \(escaped(parsed.key)) is not the header's \(context)")
    invariant(parsed.request.amountMinor == expected.amountMinor, "amount \(parsed.request.amountMinor), not \(expected.amountMinor) \(context)")
    invariant(sameBytes(parsed.request.currency.code, expected.currency), "currency \(escaped(parsed.request.currency.code)) \(context)")
    invariant(sameBytes(parsed.request.reference, expected.reference), "reference \(escaped(parsed.request.reference)) \(context)")
    checkRoundTrip(parsed.key, parsed.request, context: context)
    return 0
}

// MARK: The input

/// The header lines (name, value) before the first empty line, and the body after it.
private func split(_ input: [UInt8]) -> (headers: [(name: [UInt8], value: [UInt8])], body: [UInt8]) {
    var headers: [(name: [UInt8], value: [UInt8])] = []
    var rest = input[...]
    while !rest.isEmpty {
        let end = rest.firstIndex(of: 0x0A) ?? rest.endIndex
        let line = rest[rest.startIndex..<end]
        rest = end < rest.endIndex ? rest[(end + 1)...] : []
        if line.isEmpty { break }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
        let value = Array(line[(colon + 1)...].drop(while: isSpace).reversed().drop(while: isSpace).reversed())
        headers.append((Array(line[..<colon]), value))
    }
    return (headers, Array(rest))
}

/// The values of every line named `name` (ASCII case-insensitive), as the handler gets
/// them from NIO's `HTTPHeaders`.
private func values(_ headers: [(name: [UInt8], value: [UInt8])], _ name: String) -> [String] {
    headers.filter { asciiLowercased($0.name) == Array(name.utf8) }.map { String(decoding: $0.value, as: UTF8.self) }
}

// MARK: The rules, over bytes

private func asciiLowercased(_ bytes: some Sequence<UInt8>) -> [UInt8] {
    bytes.map { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) ? $0 | 0x20 : $0 }
}

/// 1…255 visible ASCII bytes.
private func isValidKey(_ bytes: [UInt8]) -> Bool {
    (1...255).contains(bytes.count) && bytes.allSatisfy { (0x21...0x7E).contains($0) }
}

/// Up to the first `;`, without spaces and tabs around it, `application/json` in any case.
private func isJSONContentType(_ bytes: [UInt8]) -> Bool {
    let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
    let type = bytes.prefix { $0 != UInt8(ascii: ";") }
    let trimmed = Array(type.drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    return asciiLowercased(trimmed) == Array("application/json".utf8)
}

private struct Expected {
    var amountMinor: Int64
    var currency: String
    var reference: String
}

/// The body rule: a JSON object of exactly `amount_minor` (digits only, 1…1,000,000
/// major units), `currency` (a supported code) and `reference` (`pay_` and 32 lowercase
/// hex digits), each once. JSONParser itself is FuzzJSONParser's to check.
private func expectedRequest(_ body: [UInt8]) -> Expected? {
    guard case .object(let members)? = try? JSONParser.parse(body), members.count == 3 else { return nil }
    var amount: Int64?
    var currency: Currency?
    var reference: String?
    for (name, value) in members {
        switch Array(name.utf8) {
        case Array("amount_minor".utf8):
            guard amount == nil, case .number(let text) = value else { return nil }
            let digits = Array(text.utf8)
            guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
            amount = digits.reduce(0) { $0 * 10 + Int64($1 - 0x30) }
        case Array("currency".utf8):
            guard currency == nil, case .string(let code) = value, let known = Currency(code: code), sameBytes(known.code, code) else { return nil }
            currency = known
        case Array("reference".utf8):
            let hex: (UInt8) -> Bool = { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
            guard reference == nil, case .string(let text) = value else { return nil }
            let bytes = Array(text.utf8)
            guard bytes.count == 36, bytes.prefix(4).elementsEqual("pay_".utf8), bytes.dropFirst(4).allSatisfy(hex) else { return nil }
            reference = text
        default:
            return nil
        }
    }
    guard let amount, let currency, let reference else { return nil }
    let maximum = Money.maximumMajorUnits * (0..<currency.minorUnitDigits).reduce(1) { value, _ in value * 10 }
    guard (1...maximum).contains(amount) else { return nil }
    return Expected(amountMinor: amount, currency: currency.code, reference: reference)
}

// MARK: Checks

/// Exactly one line, `Bearer ` in any case, then the token byte for byte.
private func checkToken(_ authorizations: [String], context: String) {
    let token = "s3cret-token"
    let accepted = BearerToken(token).accepts(authorizations)
    var expected = false
    if authorizations.count == 1 {
        let bytes = Array(authorizations[0].utf8)
        expected = bytes.count > 7 && asciiLowercased(bytes.prefix(7)) == Array("bearer ".utf8)
            && bytes.dropFirst(7).elementsEqual(token.utf8)
    }
    invariant(accepted == expected, "the token check said \(accepted) for \(authorizations.map(escaped)) \(context)")
    for value in authorizations {
        let bytes = Array(value.utf8)
        invariant(BearerToken.constantTimeEqual(bytes, Array(token.utf8)) == bytes.elementsEqual(token.utf8),
                  "constantTimeEqual differs from == on \(escaped(value)) \(context)")
    }
}

/// A lookup's key from a raw path segment: what it accepts is 1–255 visible ASCII bytes
/// and, where the segment has no `%`, the segment itself.
private func checkLookupKey(_ segment: Substring, context: String) {
    guard let key = try? ChargeRequest.lookupKey(pathSegment: segment) else {
        if !segment.utf8.contains(UInt8(ascii: "%")) {
            invariant(!isValidKey(Array(segment.utf8)), "refused the valid key \(escaped(String(segment))) in a path \(context)")
        }
        return
    }
    invariant(isValidKey(Array(key.utf8)), "looked up the invalid key \(escaped(key)) \(context)")
    if !segment.utf8.contains(UInt8(ascii: "%")) {
        invariant(sameBytes(key, String(segment)), "the path \(escaped(String(segment))) named \(escaped(key)) \(context)")
    }
}

/// The canonical body, members reversed and spaced, parses to the same request; the key
/// percent-encoded (every byte outside RFC 3986's unreserved set, hex in either case)
/// is found again by a lookup.
private func checkRoundTrip(_ key: String, _ request: ChargeRequest, context: String) {
    let members: [(key: String, value: JSONValue)] = [
        ("reference", .string(request.reference)),
        ("currency", .string(request.currency.code)),
        ("amount_minor", .number(String(request.amountMinor))),
    ]
    let body = JSONText.bytes(of: .object(members), spaced: true)
    do {
        let again = try ChargeRequest.parse(idempotencyKeyHeaders: [key], contentTypeHeaders: ["application/json"], body: body)
        invariant(again.request == request && sameBytes(again.key, key) && sameBytes(again.request.reference, request.reference),
                  "the canonical body \(escaped(body)) parsed to another request \(context)")
    } catch {
        invariant(false, "refused its canonical form (\(error.message)): \(escaped(body)) \(context)")
    }
    for uppercase in [true, false] {
        let path = percentEncoded(key, uppercase: uppercase)
        do {
            let found = try ChargeRequest.lookupKey(pathSegment: Substring(path))
            invariant(sameBytes(found, key), "the lookup path \(escaped(path)) named \(escaped(found)) \(context)")
        } catch {
            invariant(false, "refused the lookup path \(escaped(path)) (\(error.message)) \(context)")
        }
    }
}

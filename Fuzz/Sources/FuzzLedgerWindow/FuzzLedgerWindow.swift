import FuzzSupport
import PaymentCore

/// `ChargeWindowQuery.window(offset:limit:)`, the `offset` and `limit` of
/// `GET /ledger/{user_id}`, on arbitrary values.
///
/// Input: a query string (already percent-decoded, as the HTTP layer hands it over):
/// parameters split at `&`, each `name=value` (no `=`: an empty value); the values of
/// `offset` and `limit` go to the parser in order, other names are ignored.
///
/// Checked against the rule written again over bytes: a name given once with 1 or more
/// ASCII digits whose value is in its range (offset 0…Int.max, limit 1…1000) is that
/// value, an absent one its default (0, 100); anything else is refused, `offset` before
/// `limit`, with exactly today's detail text. An accepted window reads back from its
/// values written as decimals, and its last index never overflows.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLedgerWindow(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    var offsets: [String] = []
    var limits: [String] = []
    for parameter in input.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
        let equals = parameter.firstIndex(of: UInt8(ascii: "=")) ?? parameter.endIndex
        let name = Array(parameter[parameter.startIndex..<equals])
        let value = String(decoding: equals < parameter.endIndex ? parameter[(equals + 1)...] : [], as: UTF8.self)
        if name == Array("offset".utf8) { offsets.append(value) }
        if name == Array("limit".utf8) { limits.append(value) }
    }
    let context = "offset \(offsets.map(escaped)) limit \(limits.map(escaped)) from \(escaped(input))"

    let expectedOffset = expected(offsets, lowest: 0, highest: UInt64(Int.max), default: 0)
    let expectedLimit = expected(limits, lowest: 1, highest: UInt64(ChargeWindow.maximumLimit), default: ChargeWindow.defaultLimit)
    let window: ChargeWindow
    do {
        window = try ChargeWindowQuery.window(offset: offsets, limit: limits)
    } catch {
        // The first name that breaks its rule, and today's text for it.
        var name = "limit"
        var verdict = expectedLimit
        if case .refused = expectedOffset {
            name = "offset"
            verdict = expectedOffset
        }
        guard case .refused(let repeated) = verdict else {
            invariant(false, "refused (\(error)) values the rule accepts: \(context)")
            return 0
        }
        invariant(error.name.rawValue == name && error.repeated == repeated, "refused as \(error.name) repeated \(error.repeated): \(context)")
        let rule = name == "offset" ? #""offset" must be an integer from 0 to 9223372036854775807"# : #""limit" must be an integer from 1 to 1000"#
        let detail = repeated ? rule + ", given once" : rule
        invariant(sameBytes(error.description, detail), "the detail \(escaped(error.description)) is not \(escaped(detail)): \(context)")
        return 0
    }
    guard case .accepted(let offset) = expectedOffset, case .accepted(let limit) = expectedLimit else {
        invariant(false, "accepted values the rule refuses (window \(window.offset), \(window.limit)): \(context)")
        return 0
    }
    invariant(window.offset == offset && window.limit == limit, "window \(window.offset), \(window.limit) is not \(offset), \(limit): \(context)")
    invariant(window.lastIndex >= window.offset, "last index \(window.lastIndex) before the offset \(window.offset): \(context)")

    let again = try? ChargeWindowQuery.window(offset: [String(window.offset)], limit: [String(window.limit)])
    invariant(again == window, "the window written back reads as \(String(describing: again)): \(context)")
    return 0
}

private enum Verdict {
    case accepted(Int)
    case refused(repeated: Bool)
}

/// The rule over bytes, without `Int(_:)`: digits only (no sign, space, fraction,
/// exponent or non-ASCII digit), compared as decimals with the bounds.
private func expected(_ values: [String], lowest: UInt64, highest: UInt64, default value: Int) -> Verdict {
    guard let text = values.first else { return .accepted(value) }
    guard values.count == 1 else { return .refused(repeated: true) }
    let digits = Array(text.utf8)
    guard !digits.isEmpty, digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
        return .refused(repeated: false)
    }
    var number: UInt64 = 0
    for digit in digits.drop(while: { $0 == UInt8(ascii: "0") }) {
        // Past the highest bound already: larger still, whatever follows.
        let (times10, overflow) = number.multipliedReportingOverflow(by: 10)
        guard !overflow, times10 <= highest - UInt64(digit - UInt8(ascii: "0")) else { return .refused(repeated: false) }
        number = times10 + UInt64(digit - UInt8(ascii: "0"))
    }
    guard number >= lowest else { return .refused(repeated: false) }
    return .accepted(Int(number))
}

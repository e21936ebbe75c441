import FuzzSupport
import PaymentCore

/// `Money.minorUnits(fromJSONNumber:currency:)` on arbitrary text, in JPY (0 minor
/// digits), USD (2) and KWD (3). It must never trap (an unchecked overflow once killed the
/// server), and when it accepts an amount:
/// - the result is within 1...maximum for the currency;
/// - formatting it and parsing the text again gives the same minor units;
/// - the currencies agree: an amount valid in JPY is 100× in USD and 1000× in KWD, one
///   valid in USD is 10× in KWD, and a KWD amount with a zero last digit is valid in USD.
///   This is an exact oracle that needs no second decimal implementation.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMoney(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let jpy = Currency(code: "JPY")!, usd = Currency.usd, kwd = Currency(code: "KWD")!
    invariant(jpy.minorUnitDigits == 0 && usd.minorUnitDigits == 2 && kwd.minorUnitDigits == 3, "unexpected currency table")

    var values: [Int64?] = []
    for currency in [jpy, usd, kwd] {
        let minor = try? Money.minorUnits(fromJSONNumber: text, currency: currency)
        values.append(minor)
        guard let minor else { continue }
        let maximum = Money.maximumMajorUnits * [1, 100, 1000][values.count - 1]
        invariant(minor >= 1 && minor <= maximum, "\(escaped(text)) in \(currency) gave \(minor), outside 1...\(maximum)")
        let formatted = Money.format(minorUnits: minor, currency: currency)
        invariant(JSONText.isNumberText(formatted), "\(minor) \(currency) formatted as \(escaped(formatted)), not JSON number text")
        let again = try? Money.minorUnits(fromJSONNumber: formatted, currency: currency)
        invariant(again == minor, "\(escaped(text)) in \(currency) gave \(minor), formatted \(formatted), read back as \(again.map(String.init) ?? "an error")")
    }
    let (inJPY, inUSD, inKWD) = (values[0], values[1], values[2])
    if let inJPY {
        invariant(inUSD == inJPY * 100, "\(escaped(text)): \(inJPY) JPY but \(inUSD.map(String.init) ?? "refused") USD")
        invariant(inKWD == inJPY * 1000, "\(escaped(text)): \(inJPY) JPY but \(inKWD.map(String.init) ?? "refused") KWD")
    }
    if let inUSD {
        invariant(inKWD == inUSD * 10, "\(escaped(text)): \(inUSD) USD but \(inKWD.map(String.init) ?? "refused") KWD")
        invariant(inJPY != nil || inUSD % 100 != 0, "\(escaped(text)): \(inUSD) USD (whole units) but refused in JPY")
    }
    if let inKWD, inKWD % 10 == 0 {
        invariant(inUSD == inKWD / 10, "\(escaped(text)): \(inKWD) KWD but \(inUSD.map(String.init) ?? "refused") USD")
    }
    return 0
}

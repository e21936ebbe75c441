/// Converts a JSON number's text into integer minor units, exactly.
///
/// The amount never passes through `Double`: the digits and the exponent are read from
/// the text and shifted by the currency's minor-unit digits with integer arithmetic.
public enum Money {
    /// The largest amount accepted, in major units (1,000,000.00 USD).
    public static let maximumMajorUnits: Int64 = 1_000_000

    public static func minorUnits(fromJSONNumber text: String, currency: Currency) throws(PaymentRequestError) -> Int64 {
        var utf8 = Substring(text).utf8[...]
        var negative = false
        if utf8.first == UInt8(ascii: "-") {
            negative = true
            utf8 = utf8.dropFirst()
        }
        // Split into integer digits, fraction digits and a decimal exponent. The two counts
        // grow by one per byte of the text, so they cannot overflow; every step on the
        // exponent below is overflow-checked: an unchecked one would trap and kill the server.
        var digits: [UInt8] = []
        var fractionDigits = 0
        var exponent = 0
        var seenPoint = false
        var iterator = utf8.makeIterator()
        parsing: while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                digits.append(byte - UInt8(ascii: "0"))
                if seenPoint { fractionDigits += 1 }
            case UInt8(ascii: "."):
                seenPoint = true
            case UInt8(ascii: "e"), UInt8(ascii: "E"):
                var exponentText = ""
                while let next = iterator.next() { exponentText.append(Character(Unicode.Scalar(next))) }
                exponent = try parseExponent(exponentText)
                break parsing
            default:
                throw .invalidAmount("must be a JSON number")
            }
        }
        guard !digits.isEmpty else { throw .invalidAmount("must be a JSON number") }

        // Drop leading zeros: they carry no value.
        let significant = digits.drop(while: { $0 == 0 })
        guard !significant.isEmpty else { throw .invalidAmount("must be greater than 0") }
        if negative { throw .invalidAmount("must be greater than 0") }

        // value = significant × 10^(exponent − fractionDigits); minor = value × 10^minorDigits.
        // Trailing zeros are removed first, so 1.50 and 1.5e0 read as 15 × 10^-1.
        var mantissa = Array(significant)
        // A sum can only overflow towards the side it moves to: below Int.min no count of
        // trailing zeros brings the scale back to 0, above Int.max nothing is small enough.
        var scale = try checked(exponent.subtractingReportingOverflow(fractionDigits), else: tooPrecise(currency))
        scale = try checked(scale.addingReportingOverflow(currency.minorUnitDigits), else: tooLarge(currency))
        while mantissa.count > 1, mantissa.last == 0 {
            mantissa.removeLast()
            scale = try checked(scale.addingReportingOverflow(1), else: tooLarge(currency))
        }
        guard scale >= 0 else { throw tooPrecise(currency) }
        // The largest valid amount has `maximumDigits` digits in minor units; an integer with
        // more cannot be valid, and refusing it here keeps the sums below within Int64.
        // Written as a difference, so that a huge scale cannot overflow the comparison.
        let maximumMinor = maximumMajorUnits * power(of10: currency.minorUnitDigits)
        let maximumDigits = String(maximumMinor).count
        guard scale <= maximumDigits, mantissa.count <= maximumDigits - scale else { throw tooLarge(currency) }
        var minor: Int64 = 0
        for digit in mantissa {
            minor = try checked(minor.multipliedReportingOverflow(by: 10), else: tooLarge(currency))
            minor = try checked(minor.addingReportingOverflow(Int64(digit)), else: tooLarge(currency))
        }
        for _ in 0..<scale {
            minor = try checked(minor.multipliedReportingOverflow(by: 10), else: tooLarge(currency))
        }
        guard minor <= maximumMinor else { throw tooLarge(currency) }
        return minor
    }

    /// `amount_minor` shown back as a decimal string in major units, e.g. 1050 USD → "10.50".
    public static func format(minorUnits: Int64, currency: Currency) -> String {
        guard currency.minorUnitDigits > 0 else { return String(minorUnits) }
        let divisor = power(of10: currency.minorUnitDigits)
        let fraction = String(minorUnits % divisor)
        let padding = String(repeating: "0", count: currency.minorUnitDigits - fraction.count)
        return "\(minorUnits / divisor).\(padding)\(fraction)"
    }

    private static func parseExponent(_ text: String) throws(PaymentRequestError) -> Int {
        if let value = Int(text) { return value }
        let unsigned = text.hasPrefix("-") || text.hasPrefix("+") ? text.dropFirst() : Substring(text)
        guard !unsigned.isEmpty, unsigned.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw .invalidAmount("must be a JSON number")
        }
        // Beyond Int either way: the extreme stands for it, and the checked sums refuse it
        // with the message of its side (no digit count can bring such a scale back).
        return text.hasPrefix("-") ? Int.min : Int.max
    }

    /// The value of an overflow-reporting operation, or `error` when it overflowed.
    private static func checked<Value>(
        _ result: (partialValue: Value, overflow: Bool),
        else error: @autoclosure () -> PaymentRequestError
    ) throws(PaymentRequestError) -> Value {
        guard !result.overflow else { throw error() }
        return result.partialValue
    }

    private static func tooLarge(_ currency: Currency) -> PaymentRequestError {
        .invalidAmount("must be at most \(format(minorUnits: maximumMajorUnits * power(of10: currency.minorUnitDigits), currency: currency)) \(currency.code)")
    }

    private static func tooPrecise(_ currency: Currency) -> PaymentRequestError {
        .invalidAmount("has more than \(currency.minorUnitDigits) decimal places for \(currency.code)")
    }

    private static func power(of10 exponent: Int) -> Int64 {
        var value: Int64 = 1
        for _ in 0..<exponent { value *= 10 }
        return value
    }
}

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
        // Split into integer digits, fraction digits and a decimal exponent.
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
        var scale = exponent - fractionDigits + currency.minorUnitDigits
        while mantissa.count > 1, mantissa.last == 0 {
            mantissa.removeLast()
            scale += 1
        }
        guard scale >= 0 else {
            throw .invalidAmount("has more than \(currency.minorUnitDigits) decimal places for \(currency.code)")
        }
        let maximumMinor = maximumMajorUnits * power(of10: currency.minorUnitDigits)
        // More than 19 digits cannot be a valid amount (and would overflow Int64).
        guard mantissa.count + scale <= 19 else { throw tooLarge(currency) }
        var minor: Int64 = 0
        for digit in mantissa {
            minor = minor * 10 + Int64(digit)
        }
        for _ in 0..<scale {
            let (shifted, overflow) = minor.multipliedReportingOverflow(by: 10)
            guard !overflow else { throw tooLarge(currency) }
            minor = shifted
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
        // Too large for Int: far beyond any valid amount (or precision) either way.
        return text.hasPrefix("-") ? -1_000_000 : 1_000_000
    }

    private static func tooLarge(_ currency: Currency) -> PaymentRequestError {
        .invalidAmount("must be at most \(format(minorUnits: maximumMajorUnits * power(of10: currency.minorUnitDigits), currency: currency)) \(currency.code)")
    }

    private static func power(of10 exponent: Int) -> Int64 {
        var value: Int64 = 1
        for _ in 0..<exponent { value *= 10 }
        return value
    }
}

/// An ISO 4217 currency this service accepts, with its number of minor-unit digits.
public struct Currency: Sendable, Hashable, CustomStringConvertible {
    public let code: String
    /// Digits after the decimal point: 2 for USD (cents), 0 for JPY, 3 for KWD.
    public let minorUnitDigits: Int

    public var description: String { code }

    public static let usd = Currency(code: "USD", minorUnitDigits: 2)

    /// The accepted currency for an upper-case ISO 4217 code, or nil.
    ///
    /// Only the three ASCII bytes `A`–`Z` count. Swift compares strings by Unicode
    /// canonical equivalence, so a dictionary lookup alone would take `"\u{212A}ES"`
    /// (KELVIN SIGN) for KES; the code kept is always the table's own, never the input.
    public init?(code: String) {
        let bytes = code.utf8
        guard bytes.count == 3, bytes.allSatisfy({ (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }),
              let index = Self.minorUnitDigitsByCode.index(forKey: code)
        else { return nil }
        let (tableCode, digits) = Self.minorUnitDigitsByCode[index]
        self.init(code: tableCode, minorUnitDigits: digits)
    }

    private init(code: String, minorUnitDigits: Int) {
        self.code = code
        self.minorUnitDigits = minorUnitDigits
    }

    /// The common currencies, from ISO 4217's list of minor units. Codes without minor
    /// units (JPY, KRW, …) have 0; the dinars of Bahrain, Jordan, Kuwait, Oman and
    /// Tunisia have 3.
    static let minorUnitDigitsByCode: [String: Int] = [
        "AED": 2, "ARS": 2, "AUD": 2, "BGN": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2,
        "CLP": 0, "CNY": 2, "COP": 2, "CZK": 2, "DKK": 2, "EGP": 2, "EUR": 2, "GBP": 2,
        "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "ISK": 0, "JOD": 3, "JPY": 0,
        "KES": 2, "KRW": 0, "KWD": 3, "MAD": 2, "MXN": 2, "MYR": 2, "NGN": 2, "NOK": 2,
        "NZD": 2, "OMR": 3, "PEN": 2, "PHP": 2, "PKR": 2, "PLN": 2, "QAR": 2, "RON": 2,
        "RSD": 2, "SAR": 2, "SEK": 2, "SGD": 2, "THB": 2, "TND": 3, "TRY": 2, "TWD": 2,
        "UAH": 2, "UGX": 0, "USD": 2, "VND": 0, "XAF": 0, "XOF": 0, "ZAR": 2,
    ]
}

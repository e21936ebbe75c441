import PaymentCore
import Testing

@Suite("money parsing")
struct MoneyTests {
    let usd = Currency.usd

    @Test(arguments: [
        ("100", 10_000), ("100.0", 10_000), ("0.01", 1), ("10.5", 1_050), ("10.50", 1_050),
        ("1.500", 150), ("1e2", 10_000), ("1.5E1", 1_500), ("1234.56", 123_456),
        ("0.1e1", 100), ("25e-2", 25), ("1000000", 100_000_000), ("1000000.00", 100_000_000),
        ("999999.99", 99_999_999), ("00.01", 1),
    ] as [(String, Int64)])
    func validAmountsBecomeExactMinorUnits(text: String, minor: Int64) throws {
        #expect(try Money.minorUnits(fromJSONNumber: text, currency: usd) == minor)
    }

    @Test(arguments: [
        ("0", "\"amount\" must be greater than 0"),
        ("0.00", "\"amount\" must be greater than 0"),
        ("-0", "\"amount\" must be greater than 0"),
        ("-1", "\"amount\" must be greater than 0"),
        ("-0.01", "\"amount\" must be greater than 0"),
        ("0.001", "\"amount\" has more than 2 decimal places for USD"),
        ("1.005", "\"amount\" has more than 2 decimal places for USD"),
        ("1e-3", "\"amount\" has more than 2 decimal places for USD"),
        ("1000000.01", "\"amount\" must be at most 1000000.00 USD"),
        ("1e7", "\"amount\" must be at most 1000000.00 USD"),
        ("1e309", "\"amount\" must be at most 1000000.00 USD"),
        ("1e99999999999999999999", "\"amount\" must be at most 1000000.00 USD"),
        ("123456789012345678901234567890", "\"amount\" must be at most 1000000.00 USD"),
        ("NaN", "\"amount\" must be a JSON number"),
        ("Infinity", "\"amount\" must be a JSON number"),
        ("", "\"amount\" must be a JSON number"),
    ])
    func invalidAmountsAreRefused(text: String, message: String) {
        let error = #expect(throws: PaymentRequestError.self) {
            try Money.minorUnits(fromJSONNumber: text, currency: usd)
        }
        #expect(error?.description == message)
    }

    /// Amounts whose digits or exponent overflow 64-bit arithmetic: an unchecked step would
    /// trap (SIGILL) and kill the server on one unauthenticated request. Every
    /// one must be refused with `invalid-amount`, for currencies with 0, 2 and 3 minor digits.
    @Test(arguments: [
        "9999999999999999999", "9223372036854775807", "9223372036854775808", "18446744073709551616",
        "99999999999999999.99", "999999999999999999.9", "9999999999999999999.0", "9999999999999999999e0",
        "1e9223372036854775807", "1e9223372036854775806", "9e9223372036854775807", "1.5e9223372036854775807",
        "1e-9223372036854775808", "1.5e-9223372036854775808", "1.5e-9223372036854775807", "10e-9223372036854775808",
        "1e+9223372036854775807", "1e18", "1e19", "1e20",
        "100000000000000000000000000000000000000e-30",
        "1\(String(repeating: "0", count: 5_000))", "1\(String(repeating: "0", count: 5_000))e-4990",
        "0.\(String(repeating: "0", count: 5_000))1e5010",
    ])
    func overflowingAmountsAreRefusedNotTrapped(text: String) throws {
        for code in ["JPY", "USD", "KWD"] {
            let currency = try #require(Currency(code: code))
            #expect(throws: PaymentRequestError.self, "\(text) in \(code)") {
                try Money.minorUnits(fromJSONNumber: text, currency: currency)
            }
        }
    }

    /// Values that are large in their digits or exponent but within bounds once shifted.
    @Test func largeNotationWithinBoundsIsExact() throws {
        let jpy = try #require(Currency(code: "JPY"))
        #expect(try Money.minorUnits(fromJSONNumber: "1000000000000000000000000e-18", currency: jpy) == 1_000_000)
        #expect(try Money.minorUnits(fromJSONNumber: "0.\(String(repeating: "0", count: 5_000))1e5001", currency: jpy) == 1)
        #expect(try Money.minorUnits(fromJSONNumber: "0.0000000000000000001e19", currency: jpy) == 1)
        #expect(try Money.minorUnits(fromJSONNumber: "10000000000000000000e-19", currency: jpy) == 1)
        #expect(try Money.minorUnits(fromJSONNumber: "999999.99", currency: usd) == 99_999_999)
        #expect(try Money.minorUnits(fromJSONNumber: "1\(String(repeating: "0", count: 4_000))e-3994", currency: usd) == 100_000_000)
    }

    @Test func currencyExponentDecides() throws {
        let jpy = try #require(Currency(code: "JPY"))
        let kwd = try #require(Currency(code: "KWD"))
        #expect(try Money.minorUnits(fromJSONNumber: "500", currency: jpy) == 500)
        #expect(throws: PaymentRequestError.invalidAmount("has more than 0 decimal places for JPY")) {
            try Money.minorUnits(fromJSONNumber: "500.5", currency: jpy)
        }
        #expect(try Money.minorUnits(fromJSONNumber: "1.234", currency: kwd) == 1_234)
        #expect(try Money.minorUnits(fromJSONNumber: "1000000", currency: jpy) == 1_000_000)
    }

    @Test func unknownCurrencyCodesAreNotAccepted() {
        #expect(Currency(code: "XYZ") == nil)
        #expect(Currency(code: "usd") == nil, "codes are upper case")
    }

    @Test func formatting() throws {
        #expect(Money.format(minorUnits: 1_050, currency: usd) == "10.50")
        #expect(Money.format(minorUnits: 7, currency: usd) == "0.07")
        #expect(Money.format(minorUnits: 500, currency: try #require(Currency(code: "JPY"))) == "500")
    }
}

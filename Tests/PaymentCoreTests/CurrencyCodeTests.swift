import PaymentCore
import Testing

/// A currency code is compared byte for byte with the table: Unicode that folds or
/// normalises to a valid code (KELVIN SIGN, combining marks, full-width letters) is refused.
@Suite("currency codes: three ASCII letters from the table, nothing that only looks like one")
struct CurrencyCodeTests {
    private func parse(_ body: String, headers: [String] = []) throws(PaymentRequestError) -> PaymentRequest {
        try PaymentRequest.parse(body: Array(body.utf8), idempotencyKeyHeaders: headers)
    }

    @Test(arguments: [
        #"\u212aES"#, // KELVIN SIGN + ES: canonically equivalent to KES
        "\u{212A}ES", // the same, as raw UTF-8
        "US\u{0044}\u{0307}", // D + combining dot above
        "ＵＳＤ", // full-width letters
        "USD ", "usd", "US", "USDD", "",
    ])
    func currencyCodesAreExactlyThreeASCIILetters(code: String) {
        #expect(throws: PaymentRequestError.self) {
            try parse(#"{"user_id":"u","amount":1,"currency":"\#(code)","idempotency_key":"k"}"#)
        }
    }


    @Test func theStoredCurrencyCodeIsTheTablesOwn() throws {
        let request = try parse(#"{"user_id":"u","amount":1,"currency":"KES","idempotency_key":"k"}"#)
        #expect(Array(request.currency.code.utf8) == Array("KES".utf8))
        #expect(Currency(code: "\u{212A}ES") == nil)
    }
}

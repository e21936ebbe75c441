import PaymentCore
import Testing

/// The hostile review's findings in the request's parsing: each case was accepted (or
/// cost quadratic time) before its fix.
@Suite("review findings: currencies, repeated keys, member limits")
struct ReviewFindingsTests {
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

    @Test func aRepeatedIdempotencyKeyHeaderIsRefused() {
        #expect(throws: PaymentRequestError.repeatedIdempotencyKeyHeader(count: 2)) {
            try parse(#"{"user_id":"u","amount":1}"#, headers: ["abc", "abc"])
        }
        #expect(throws: PaymentRequestError.repeatedIdempotencyKeyHeader(count: 2)) {
            try parse(#"{"user_id":"u","amount":1,"idempotency_key":"abc"}"#, headers: [#""abc""#, #""abc""#])
        }
    }

    @Test(arguments: ["abc, abc", "abc,abc", #""abc", "abc""#, "a,"])
    func aJoinedOrCommaHeaderIsRefused(header: String) {
        #expect(throws: PaymentRequestError.self) {
            try parse(#"{"user_id":"u","amount":1}"#, headers: [header])
        }
    }

    @Test func aQuotedKeyMayHoldAComma() throws {
        #expect(try parse(#"{"user_id":"u","amount":1}"#, headers: [#""a,b""#]).idempotencyKey.value == "a,b")
        #expect(try parse(#"{"user_id":"u","amount":1,"idempotency_key":"a,b"}"#).idempotencyKey.value == "a,b")
    }

    @Test func aMisspeltFifthMemberIsNamedAndASixthStopsTheParser() {
        let valid = #""user_id":"u","amount":1,"currency":"USD","idempotency_key":"k""#
        #expect(throws: PaymentRequestError.unknownField("ammount")) {
            try parse(#"{\#(valid),"ammount":2}"#)
        }
        // The text after the sixth member is not valid JSON: the error shows the parser
        // stopped before reading it.
        #expect {
            try parse(#"{\#(valid),"a":1,"b":2 this is never read"#)
        } throws: { error in
            "\(error)".contains("more than 5 members")
        }
    }

    @Test func sixtyFourKibibytesOfDistinctMembersAreRefusedAtTheSixth() {
        let members = (0..<6_000).map { #""m\#($0)":1"# }.joined(separator: ",")
        #expect {
            try parse("{\(members)}")
        } throws: { error in
            "\(error)".contains("more than 5 members")
        }
    }
}

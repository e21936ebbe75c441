import PaymentCore
import Testing

/// The parser stops at the sixth member, so a huge object costs no more than a small one.
@Suite("payment request: at most five members, checked while parsing")
struct PaymentRequestMemberLimitTests {
    private func parse(_ body: String, headers: [String] = []) throws(PaymentRequestError) -> PaymentRequest {
        try PaymentRequest.parse(body: Array(body.utf8), idempotencyKeyHeaders: headers)
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

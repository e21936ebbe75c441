import PaymentCore
import Testing

/// A key sent twice, or joined with a comma by a proxy, is ambiguous: refused, never guessed.
@Suite("the Idempotency-Key header: one value, sent once")
struct IdempotencyKeyHeaderTests {
    private func parse(_ body: String, headers: [String] = []) throws(PaymentRequestError) -> PaymentRequest {
        try PaymentRequest.parse(body: Array(body.utf8), idempotencyKeyHeaders: headers)
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
}

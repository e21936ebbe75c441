import PaymentCore
import Testing

@Suite("payment request validation")
struct PaymentRequestTests {
    private func parse(_ body: String, header: String? = nil) throws(PaymentRequestError) -> PaymentRequest {
        try PaymentRequest.parse(body: Array(body.utf8), idempotencyKeyHeader: header)
    }

    @Test func fullBody() throws {
        let request = try parse(#"{"user_id":"user123","amount":100.0,"currency":"EUR","idempotency_key":"unique-key-123"}"#)
        #expect(request.userID.value == "user123")
        #expect(request.amountMinor == 10_000)
        #expect(request.currency.code == "EUR")
        #expect(request.idempotencyKey.value == "unique-key-123")
    }

    @Test func currencyDefaultsToUSDAndKeyMayComeFromTheHeader() throws {
        let request = try parse(#"{"user_id":"u","amount":5}"#, header: #""k-1""#)
        #expect(request.currency == .usd)
        #expect(request.idempotencyKey.value == "k-1")
    }

    @Test(arguments: [
        (#""abc""#, "abc"), ("abc", "abc"), (#"  "a b"  "#, "a b"), (#""q\"uote\\d""#, #"q"uote\d"#),
    ])
    func headerForms(header: String, key: String) throws {
        #expect(try IdempotencyKey(header: header).value == key)
    }

    @Test func sameKeyInHeaderAndBodyIsFine() throws {
        #expect(try parse(#"{"user_id":"u","amount":5,"idempotency_key":"k"}"#, header: "\"k\"").idempotencyKey.value == "k")
    }

    @Test(arguments: [
        (#"[]"#, nil, PaymentRequestError.notAnObject),
        (#"{"user_id":"u","amount":5,"idempotency_key":"k","extra":1}"#, nil, .unknownField("extra")),
        (#"{"amount":5,"idempotency_key":"k"}"#, nil, .missingField("user_id")),
        (#"{"user_id":"u","idempotency_key":"k"}"#, nil, .missingField("amount")),
        (#"{"user_id":"u","amount":"5","idempotency_key":"k"}"#, nil, .wrongType(field: "amount", expected: "a JSON number")),
        (#"{"user_id":"u","amount":"NaN","idempotency_key":"k"}"#, nil, .wrongType(field: "amount", expected: "a JSON number")),
        (#"{"user_id":7,"amount":5,"idempotency_key":"k"}"#, nil, .wrongType(field: "user_id", expected: "a string")),
        (#"{"user_id":"u","amount":5,"currency":"XYZ","idempotency_key":"k"}"#, nil, .unknownCurrency("XYZ")),
        (#"{"user_id":"u","amount":5,"currency":1,"idempotency_key":"k"}"#, nil, .wrongType(field: "currency", expected: "a string")),
        (#"{"user_id":"{u}","amount":5,"idempotency_key":"k"}"#, nil, .invalidUserID("may contain only letters, digits and . _ : -")),
        (#"{"user_id":"a b","amount":5,"idempotency_key":"k"}"#, nil, .invalidUserID("may contain only letters, digits and . _ : -")),
        (#"{"user_id":"ü","amount":5,"idempotency_key":"k"}"#, nil, .invalidUserID("may contain only letters, digits and . _ : -")),
        (#"{"user_id":"","amount":5,"idempotency_key":"k"}"#, nil, .invalidUserID("must not be empty")),
        (#"{"user_id":"u","amount":5}"#, nil, .missingIdempotencyKey),
        (#"{"user_id":"u","amount":5,"idempotency_key":""}"#, nil, .invalidIdempotencyKey("must not be empty")),
        (#"{"user_id":"u","amount":5,"idempotency_key":"a\u0001b"}"#, nil, .invalidIdempotencyKey("may contain only printable ASCII characters")),
        (#"{"user_id":"u","amount":5,"idempotency_key":7}"#, nil, .wrongType(field: "idempotency_key", expected: "a string")),
        (#"{"user_id":"u","amount":5,"idempotency_key":"a"}"#, "\"b\"", .conflictingIdempotencyKeys),
        (#"{"user_id":"u","amount":5}"#, "\"unterminated", .invalidIdempotencyKey("is missing its closing quote")),
        (#"{"user_id":"u","amount":5}"#, "\"a\"b", .invalidIdempotencyKey("has text after its closing quote")),
    ] as [(String, String?, PaymentRequestError)])
    func invalidRequestsSayWhy(body: String, header: String?, expected: PaymentRequestError) {
        #expect(throws: expected) { try parse(body, header: header) }
    }

    @Test func lengthLimits() throws {
        let user64 = String(repeating: "u", count: 64)
        #expect(try UserID(user64).value == user64)
        #expect(throws: PaymentRequestError.invalidUserID("must be at most 64 characters")) { try UserID(user64 + "u") }
        let key255 = String(repeating: "k", count: 255)
        #expect(try IdempotencyKey(key255).value == key255)
        #expect(throws: PaymentRequestError.invalidIdempotencyKey("must be at most 255 characters")) { try IdempotencyKey(key255 + "k") }
    }

    @Test func malformedJSONNamesTheProblem() {
        let error = #expect(throws: PaymentRequestError.self) { try parse(#"{"user_id": "u", "amount": 5"#) }
        #expect(error?.description.hasPrefix("request body is not valid JSON:") == true)
    }

    @Test func fingerprintIsStableAndCoversUserAmountAndCurrency() throws {
        let base = try parse(#"{"user_id":"u1","amount":10,"idempotency_key":"k"}"#)
        let sameOtherKey = try parse(#"{"user_id":"u1","amount":10.00,"idempotency_key":"other"}"#)
        #expect(base.fingerprint == sameOtherKey.fingerprint, "the key is not part of the fingerprint; 10 and 10.00 are one amount")
        // printf 'u1\n1000\nUSD' | sha256sum
        #expect(base.fingerprint == "a5403a2d0523c4e87b5159e8eae61e9aa0b8c225ae83d027c8d5148f15e366ee")
        #expect(base.fingerprint != (try parse(#"{"user_id":"u1","amount":11,"idempotency_key":"k"}"#)).fingerprint)
        #expect(base.fingerprint != (try parse(#"{"user_id":"u2","amount":10,"idempotency_key":"k"}"#)).fingerprint)
        #expect(base.fingerprint != (try parse(#"{"user_id":"u1","amount":10,"currency":"EUR","idempotency_key":"k"}"#)).fingerprint)
    }
}

import HTTPTypes
import HummingbirdTesting
import NIOCore
import PaymentAPI
import RedisClient
import RedisTestSupport
import Testing

/// Hostile bodies and headers on `POST /pay`: each gets its status and problem type, and
/// nothing reaches Redis (no idempotency record, no ledger, no bucket). Serialized, so
/// that "the database is still empty" is exact. Socket-level cases (a 10 MB body, huge
/// headers, slowloris, HTTP/1.0, pipelining) are in e2e/fixtures/hostile-http.py.
@Suite("hostile input: refused with a clear error, nothing stored", .redisServer(), .serialized)
struct HostileInputTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let body: [UInt8]
        var headers: HTTPFields = [.contentType: "application/json"]
        var status: HTTPResponse.Status = .badRequest
        let type: String
        var detail: String?
        /// `MAX_BODY_BYTES` for this case: raised where the point is what the parser does.
        var maxBodyBytes = 16_384

        var testDescription: String { name }

        /// A body with `user_id` u, key k and amount 1.00, with `fields` replacing or adding members.
        static func json(_ name: String, _ text: String, status: HTTPResponse.Status = .badRequest, type: String, detail: String? = nil) -> Case {
            Case(name: name, body: Array(text.utf8), status: status, type: type, detail: detail)
        }
    }

    static let key = #""idempotency_key":"k""#

    /// JSON content type plus these fields, repeated names kept apart.
    static func headers(_ fields: (String, String)...) -> HTTPFields {
        var headers: HTTPFields = [.contentType: "application/json"]
        for (name, value) in fields { headers.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
        return headers
    }
    static let user = #""user_id":"u""#

    static let cases: [Case] = [
        .json("malformed JSON", #"{"user_id":"u",,}"#, type: "malformed-request"),
        .json("truncated JSON", #"{"user_id":"u","amount":1.0,"idempotency_key":"#, type: "malformed-request"),
        .json("empty body", "", type: "malformed-request"),
        .json("not an object", #"[1,2,3]"#, type: "malformed-request"),
        .json("trailing garbage", #"{"user_id":"u","amount":1,"idempotency_key":"k"} x"#, type: "malformed-request"),
        .json("user_id a number", #"{"user_id":7,"amount":1,\#(key)}"#, type: "invalid-field", detail: "must be a string"),
        .json("amount a string", #"{\#(user),"amount":"1.00",\#(key)}"#, type: "invalid-field"),
        .json("amount \"NaN\"", #"{\#(user),"amount":"NaN",\#(key)}"#, type: "invalid-field"),
        .json("amount NaN bare", #"{\#(user),"amount":NaN,\#(key)}"#, type: "malformed-request"),
        .json("currency a number", #"{\#(user),"amount":1,"currency":840,\#(key)}"#, type: "invalid-field"),
        .json("key a number", #"{\#(user),"amount":1,"idempotency_key":5}"#, type: "invalid-field"),
        .json("missing user_id", #"{"amount":1,\#(key)}"#, type: "invalid-field", detail: "missing field"),
        .json("missing amount", #"{\#(user),\#(key)}"#, type: "invalid-field", detail: "missing field"),
        .json("unknown field", #"{\#(user),"amount":1,\#(key),"ammount":2}"#, type: "invalid-field", detail: "unknown field"),
        .json("amount 0", #"{\#(user),"amount":0,\#(key)}"#, type: "invalid-amount"),
        .json("amount negative", #"{\#(user),"amount":-5,\#(key)}"#, type: "invalid-amount"),
        .json("amount -0", #"{\#(user),"amount":-0,\#(key)}"#, type: "invalid-amount"),
        .json("amount 1e309", #"{\#(user),"amount":1e309,\#(key)}"#, type: "invalid-amount"),
        // Each of these overflows 64-bit arithmetic: refused, never trapped.
        .json("amount of 19 nines in JPY", #"{\#(user),"amount":9999999999999999999,"currency":"JPY",\#(key)}"#, type: "invalid-amount"),
        .json("amount of 19 digits with decimals", #"{\#(user),"amount":99999999999999999.99,\#(key)}"#, type: "invalid-amount"),
        .json("amount with the largest exponent", #"{\#(user),"amount":1e9223372036854775807,\#(key)}"#, type: "invalid-amount"),
        .json("amount with the smallest exponent", #"{\#(user),"amount":1.5e-9223372036854775808,\#(key)}"#, type: "invalid-amount"),
        .json("amount 3 decimals", #"{\#(user),"amount":1.005,\#(key)}"#, type: "invalid-amount"),
        .json("amount above the maximum", #"{\#(user),"amount":1000000.01,\#(key)}"#, type: "invalid-amount"),
        .json("unknown currency", #"{\#(user),"amount":1,"currency":"XYZ",\#(key)}"#, type: "unknown-currency"),
        .json("lower-case currency", #"{\#(user),"amount":1,"currency":"usd",\#(key)}"#, type: "unknown-currency"),
        .json("user_id with braces", #"{"user_id":"a{b}c","amount":1,\#(key)}"#, type: "invalid-user-id"),
        .json("user_id with a space", #"{"user_id":"a b","amount":1,\#(key)}"#, type: "invalid-user-id"),
        .json("user_id in unicode", #"{"user_id":"usér","amount":1,\#(key)}"#, type: "invalid-user-id"),
        .json("user_id of 65 chars", #"{"user_id":"\#(String(repeating: "u", count: 65))","amount":1,\#(key)}"#, type: "invalid-user-id"),
        .json("user_id empty", #"{"user_id":"","amount":1,\#(key)}"#, type: "invalid-user-id"),
        .json("key of 256 chars", #"{\#(user),"amount":1,"idempotency_key":"\#(String(repeating: "k", count: 256))"}"#, type: "invalid-idempotency-key"),
        .json("key empty", #"{\#(user),"amount":1,"idempotency_key":""}"#, type: "invalid-idempotency-key"),
        .json("key with a control character", #"{\#(user),"amount":1,"idempotency_key":"a\u0007b"}"#, type: "invalid-idempotency-key"),
        .json("key with a newline", #"{\#(user),"amount":1,"idempotency_key":"a\nb"}"#, type: "invalid-idempotency-key"),
        .json("no key at all", #"{\#(user),"amount":1}"#, type: "invalid-idempotency-key"),
        Case(name: "header and body keys disagree", body: Array(#"{\#(user),"amount":1,\#(key)}"#.utf8),
             headers: [.contentType: "application/json", .init("Idempotency-Key")!: "other"], type: "invalid-idempotency-key",
             detail: "differ"),
        Case(name: "header key of 256 chars", body: Array(#"{\#(user),"amount":1}"#.utf8),
             headers: [.contentType: "application/json", .init("Idempotency-Key")!: String(repeating: "k", count: 256)],
             type: "invalid-idempotency-key"),
        Case(name: "invalid UTF-8 in a string", body: Array(#"{"user_id":""#.utf8) + [0xC3, 0x28] + Array(#"","amount":1,\#(key)}"#.utf8),
             type: "malformed-request"),
        Case(name: "invalid UTF-8 outside strings", body: [0xFF, 0xFE] + Array(#"{"user_id":"u"}"#.utf8), type: "malformed-request"),
        Case(name: "JSON nested 50,000 deep (the body limit raised to let it in)",
             body: Array(repeating: UInt8(ascii: "["), count: 50_000) + Array(repeating: UInt8(ascii: "]"), count: 50_000),
             type: "malformed-request", maxBodyBytes: 1_048_576),
        Case(name: "objects nested 50,000 deep", body: Array(String(repeating: #"{"a":"#, count: 50_000).utf8),
             type: "malformed-request", maxBodyBytes: 1_048_576),
        Case(name: "JSON nested 50,000 deep at the default limit", body: Array(repeating: UInt8(ascii: "["), count: 50_000),
             status: .contentTooLarge, type: "body-too-large"),
        // Text that only looks valid, repeated headers, huge objects: refused, in linear time.
        .json("currency with a KELVIN SIGN (canonically KES)", #"{\#(user),"amount":1,"currency":"\u212aES",\#(key)}"#, type: "unknown-currency"),
        .json("currency in full-width letters", #"{\#(user),"amount":1,"currency":"ＵＳＤ",\#(key)}"#, type: "unknown-currency"),
        Case(name: "Idempotency-Key header twice", body: Array(#"{\#(user),"amount":1}"#.utf8),
             headers: headers(("Idempotency-Key", "abc"), ("Idempotency-Key", "abc")), type: "invalid-idempotency-key", detail: "once"),
        Case(name: "Idempotency-Key header of two quoted keys", body: Array(#"{\#(user),"amount":1}"#.utf8),
             headers: headers(("Idempotency-Key", #""abc", "abc""#)), type: "invalid-idempotency-key"),
        Case(name: "Idempotency-Key bare value with a comma", body: Array(#"{\#(user),"amount":1}"#.utf8),
             headers: headers(("Idempotency-Key", "abc, abc")), type: "invalid-idempotency-key", detail: "comma"),
        .json("a sixth member", #"{\#(user),"amount":1,"currency":"USD",\#(key),"a":1,"b":2}"#, type: "malformed-request",
              detail: "more than 5 members"),
        Case(name: "64 KiB of distinct members (the body limit raised to let it in)",
             body: Array(("{" + (0..<6_500).map { #""m\#($0)":1"# }.joined(separator: ",") + "}").utf8),
             type: "malformed-request", detail: "more than 5 members", maxBodyBytes: 1_048_576),
        Case(name: "a content type other than JSON", body: Array(#"{\#(user),"amount":1,\#(key)}"#.utf8),
             headers: [.contentType: "text/plain"], status: .unsupportedMediaType, type: "unsupported-media-type"),
        Case(name: "a body over the limit", body: Array(#"{\#(user),"amount":1,\#(key),"pad":""#.utf8) + Array(repeating: UInt8(ascii: "x"), count: 20_000) + Array(#""}"#.utf8),
             status: .contentTooLarge, type: "body-too-large"),
    ]

    @Test(arguments: cases)
    func refusedAndNothingStored(_ hostile: Case) async throws {
        try await withSuiteRedis { redis async throws in
            try await withApp({ $0.maxBodyBytes = hostile.maxBodyBytes }) { client in
                let response = try await client.pay(ByteBuffer(bytes: hostile.body), headers: hostile.headers)
                expectProblem(response, hostile.status, type: hostile.type, detailContains: hostile.detail)
                // Problem details never echo the raw body back.
                #expect(!response.text.contains("ammount\":2"))
            }
            #expect(try await redis.send("DBSIZE") == .integer(0), "nothing may be stored for a refused request")
        }
    }

    @Test func aValidRequestAfterwardsStillWorks() async throws {
        try await withSuiteRedis { redis async throws in
            try await withApp { client async throws in
                #expect(try await client.pay(payBody(user: uniqueUser("after-hostile"))).status == .ok)
            }
            #expect(try await redis.send("DBSIZE").int ?? 0 > 0, "the check above can see stored keys")
            _ = try await redis.send("FLUSHALL")
        }
    }
}

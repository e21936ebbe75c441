import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import PaymentAPI
import PaymentCore
import RedisTestSupport
import Testing

/// Refused requests over HTTP: a 400 that names the problem, and nothing charged or counted.
@Suite("invalid requests over HTTP", .redisServer())
struct RequestValidationHTTPTests {
    @Test func aKelvinSignCurrencyIsRefusedAndTheLedgerKeepsOneTotalPerCode() async throws {
        try await withApp { client in
            let user = uniqueUser("kelvin")
            let kelvin = ByteBuffer(string: #"{"user_id":"\#(user)","amount":5,"currency":"\u212aES","idempotency_key":"k1"}"#)
            expectProblem(try await client.pay(kelvin), .badRequest, type: "unknown-currency")
            #expect(try await client.pay(payBody(user: user, amount: "7", currency: "KES", key: "k2")).status == .ok)
            let ledger = try await client.executeRequest(uri: "/ledger/\(user)", method: .get, headers: [:], body: nil)
            #expect(ledger.text.contains(#""payments":1"#), "\(ledger.text)")
            #expect(ledger.text.contains(#""totals":{"KES":700}"#), "\(ledger.text)")
        }
    }


    @Test func aRepeatedIdempotencyKeyHeaderIs400AndARetryWithOneHeaderIsNotChargedTwice() async throws {
        try await withApp { client in
            let user = uniqueUser("repeated")
            let body = payBody(user: user, key: nil)
            var twice = HTTPFields([HTTPField(name: .contentType, value: "application/json")])
            twice.append(HTTPField(name: .idempotencyKey, value: "abc"))
            twice.append(HTTPField(name: .idempotencyKey, value: "abc"))
            expectProblem(try await client.pay(body, headers: twice), .badRequest, type: "invalid-idempotency-key", detailContains: "once")
            let once: HTTPFields = [.contentType: "application/json", .idempotencyKey: "abc"]
            #expect(try await client.pay(body, headers: once).status == .ok)
            #expect(try await client.pay(body, headers: once).headers[.init("Idempotent-Replayed")!] == "true")
        }
    }
}

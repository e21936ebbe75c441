import Hummingbird
import HummingbirdTesting
import NIOCore
import PaymentAPI
import PaymentCore
import RedisTestSupport
import StrictJSON
import Testing

@Suite("GET /ledger: charges, window, bad query", .redisServer())
struct LedgerTests {
    /// Pays and returns the payment id the server answered with.
    private func pay(_ client: any TestClientProtocol, _ body: ByteBuffer) async throws -> String {
        let response = try await client.pay(body)
        #expect(response.status == .ok, "\(response.text)")
        guard case .object(let fields)? = try? JSONParser.parse(Array(response.text.utf8)),
              case .string(let id)? = fields.first(where: { $0.key == "payment_id" })?.value
        else {
            Issue.record("no payment_id in \(response.text)")
            return ""
        }
        return id
    }

    private func ledger(_ client: any TestClientProtocol, _ user: String, _ query: String = "") async throws -> TestResponse {
        try await client.executeRequest(uri: "/ledger/\(user)\(query)", method: .get, headers: [:], body: nil)
    }

    @Test func chargesAreListedInTheOrderChargedWithKeyAmountAndCurrency() async throws {
        try await withApp { client in
            let user = uniqueUser("charges")
            let first = try await pay(client, payBody(user: user, amount: "10.25", key: "order 1"))
            let second = try await pay(client, payBody(user: user, amount: "500", currency: "JPY", key: #"q\"uote"#))
            let third = try await pay(client, payBody(user: user, amount: "1.234", currency: "KWD", key: "k-3"))
            // A replay charges nothing, so it adds no charge.
            #expect(try await client.pay(payBody(user: user, amount: "10.25", key: "order 1")).headers[.init("Idempotent-Replayed")!] == "true")

            let response = try await ledger(client, user)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            #expect(response.text == #"{"user_id":"\#(user)","payments":3,"totals":{"JPY":500,"KWD":1234,"USD":1025},"charges_total":3,"charges":["#
                + #"{"payment_id":"\#(first)","idempotency_key":"order 1","amount_minor":1025,"currency":"USD"},"#
                + #"{"payment_id":"\#(second)","idempotency_key":"q\"uote","amount_minor":500,"currency":"JPY"},"#
                + #"{"payment_id":"\#(third)","idempotency_key":"k-3","amount_minor":1234,"currency":"KWD"}],"unknown":[]}"#)
        }
    }

    @Test func aUserWithoutChargesHasAnEmptyList() async throws {
        try await withApp { client in
            let user = uniqueUser("nocharges")
            let text = try await ledger(client, user).text
            #expect(text == #"{"user_id":"\#(user)","payments":0,"totals":{},"charges_total":0,"charges":[],"unknown":[]}"#)
        }
    }

    @Test func offsetAndLimitPageThroughTheCharges() async throws {
        try await withApp { client in
            let user = uniqueUser("pages")
            for index in 1...5 { _ = try await pay(client, payBody(user: user, amount: "1", key: "k\(index)")) }
            func keys(_ query: String) async throws -> [String] {
                let response = try await ledger(client, user, query)
                #expect(response.status == .ok, "\(response.text)")
                #expect(response.text.contains(#""payments":5,"totals":{"USD":500},"charges_total":5,"#), "\(response.text)")
                return response.text.split(separator: "\"idempotency_key\":\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
            }
            #expect(try await keys("") == ["k1", "k2", "k3", "k4", "k5"])
            #expect(try await keys("?limit=2") == ["k1", "k2"])
            #expect(try await keys("?offset=2&limit=2") == ["k3", "k4"])
            #expect(try await keys("?limit=1000&offset=4") == ["k5"])
            #expect(try await keys("?offset=5") == [])
            #expect(try await keys("?offset=9223372036854775807&limit=1000") == [], "the last index saturates, it does not overflow")
            #expect(try await keys("?offset=0&other=ignored") == ["k1", "k2", "k3", "k4", "k5"])
        }
    }

    @Test func withoutALimitAtMost100ChargesAreReturned() async throws {
        try await withApp { client in
            let user = uniqueUser("bounded")
            for index in 1...(ChargeWindow.defaultLimit + 1) {
                _ = try await pay(client, payBody(user: user, amount: "1", key: "k\(index)"))
            }
            let first = try await ledger(client, user).text
            #expect(first.contains(#""payments":101,"totals":{"USD":10100},"charges_total":101,"#))
            #expect(first.split(separator: #""payment_id""#).count - 1 == 100)
            #expect(first.contains(#""idempotency_key":"k100""#) && !first.contains(#""idempotency_key":"k101""#))
            let all = try await ledger(client, user, "?limit=1000").text
            #expect(all.split(separator: #""payment_id""#).count - 1 == 101)
        }
    }

    @Test func badOffsetsAndLimitsAre400AndChangeNothing() async throws {
        try await withApp { client in
            let user = uniqueUser("badquery")
            _ = try await pay(client, payBody(user: user, amount: "2.50", key: "k1"))
            let before = try await ledger(client, user).text
            let cases: [(query: String, names: String)] = [
                ("offset=-1", "offset"), ("offset=abc", "offset"), ("offset=1.5", "offset"), ("offset=+1", "offset"),
                ("offset=1e2", "offset"), ("offset=", "offset"), ("offset", "offset"), ("offset=99999999999999999999", "offset"),
                ("offset=0x10", "offset"), ("offset=%201", "offset"), ("offset=1&offset=2", "offset"),
                ("limit=0", "limit"), ("limit=1001", "limit"), ("limit=-5", "limit"), ("limit=ten", "limit"),
                ("limit=", "limit"), ("limit=5&limit=5", "limit"), ("offset=1&limit=0", "limit"),
            ]
            for (query, name) in cases {
                let response = try await ledger(client, user, "?" + query)
                expectProblem(response, .badRequest, type: "invalid-query", detailContains: #"\"\#(name)\" must be an integer from"#)
            }
            #expect(try await ledger(client, user, "?limit=1001").text.contains("from 1 to 1000"))
            #expect(try await ledger(client, user).text == before, "a refused read changed nothing")
        }
    }
}

import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PaymentAPI
import PaymentCore
import RedisTestSupport
import StrictJSON
import Testing

/// `GET /payments/{payment_id}` through a real socket: the answer's shape, the receipt a
/// replay returns, and every refusal (malformed id, unknown id, other methods). Tenants
/// and 401: AuthTests; declined and unknown payments: HTTPProcessorTests+Lookup.
@Suite("GET /payments/{payment_id}: recovery by payment id", .redisServer())
struct PaymentLookupTests {
    @Test func aChargedPaymentIsFoundWithTheReceiptAReplayReturns() async throws {
        try await withApp { client in
            let user = uniqueUser("lookup-charged")
            let paid = try await client.pay(payBody(user: user, amount: "12.34", currency: "EUR"))
            #expect(paid.status == .ok, "\(paid.text)")
            let paymentID = try #require(lookupMember("payment_id", of: paid.text))
            let replay = try await client.pay(payBody(user: user, amount: "12.34", currency: "EUR"))
            #expect(replay.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")

            let found = try await client.executeRequest(uri: "/payments/\(paymentID)", method: .get, headers: [:], body: nil)
            #expect(found.status == .ok, "\(found.text)")
            #expect(found.headers[.contentType] == "application/json")
            expectLookup(found.text, paymentID: paymentID, status: "charged", amountMinor: 1_234, currency: "EUR", chargeID: nil)
            #expect(found.text.hasSuffix(#","receipt":"# + replay.text + "}"), "the receipt is the replay's body, byte for byte: \(found.text)")

            // HEAD answers as GET does, without the body.
            let head = try await client.executeRequest(uri: "/payments/\(paymentID)", method: .head, headers: [:], body: nil)
            #expect(head.status == .ok)
            #expect(head.body.readableBytes == 0)
        }
    }

    @Test func anIDNotOfThePaymentIDFormIs400AndAnUnknownOneIs404() async throws {
        try await withApp { client in
            let hex = String(repeating: "a", count: 32)
            for malformed in ["nothing", "pay_", "pay_\(hex)0", "pay_\(hex.dropLast())", "pay_\(hex.uppercased())", "PAY_\(hex)",
                              "pay_\(hex.dropLast())g", "pk_\(hex)", "pay_\(hex.dropLast())%20"] {
                let response = try await client.executeRequest(uri: "/payments/\(malformed)", method: .get, headers: [:], body: nil)
                expectProblem(response, .badRequest, type: "invalid-payment-id", detailContains: "32 lower-case hex digits")
            }
            let unknown = try await client.executeRequest(uri: "/payments/pay_\(hex)", method: .get, headers: [:], body: nil)
            expectProblem(unknown, .notFound, type: "payment-not-found")
        }
    }

    @Test func otherMethodsAre405WithAllow() async throws {
        try await withApp { client in
            let uri = "/payments/pay_" + String(repeating: "0", count: 32)
            for method in [HTTPRequest.Method.post, .put, .patch, .delete] {
                let response = try await client.executeRequest(uri: uri, method: method, headers: [:], body: nil)
                expectProblem(response, .methodNotAllowed, type: "method-not-allowed")
                #expect(response.headers[.allow] == "GET, HEAD", "\(method)")
            }
        }
    }
}

/// A string member of a JSON object's text.
func lookupMember(_ name: String, of text: String) -> String? {
    guard case .object(let members)? = try? JSONParser.parse(Array(text.utf8)),
          case .string(let value)? = members.first(where: { $0.key == name })?.value
    else { return nil }
    return value
}

/// Checks a lookup's body: its members in order, and each value but `receipt` (the
/// caller checks that against the body a replay returns).
func expectLookup(
    _ text: String, paymentID: String, status: String, amountMinor: Int64, currency: String, chargeID: String?,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard case .object(let members)? = try? JSONParser.parse(Array(text.utf8)) else {
        Issue.record("not a JSON object: \(text)", sourceLocation: sourceLocation)
        return
    }
    #expect(members.map(\.key) == ["payment_id", "status", "amount_minor", "currency", "created_at", "updated_at", "charge_id", "receipt"],
            sourceLocation: sourceLocation)
    func value(_ name: String) -> JSONValue? { members.first { $0.key == name }?.value }
    #expect(value("payment_id") == .string(paymentID), sourceLocation: sourceLocation)
    #expect(value("status") == .string(status), sourceLocation: sourceLocation)
    #expect(value("amount_minor") == .number(String(amountMinor)), sourceLocation: sourceLocation)
    #expect(value("currency") == .string(currency), sourceLocation: sourceLocation)
    #expect(value("charge_id") == chargeID.map(JSONValue.string) ?? .null, sourceLocation: sourceLocation)
    // As a receipt's `created_at`: RFC 3339, UTC, milliseconds.
    let timestamp = #/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/#
    for name in ["created_at", "updated_at"] {
        guard case .string(let time)? = value(name) else {
            Issue.record("\(name) is not a string: \(text)", sourceLocation: sourceLocation)
            continue
        }
        #expect(time.wholeMatch(of: timestamp) != nil, "\(name): \(time)", sourceLocation: sourceLocation)
    }
}

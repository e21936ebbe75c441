import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import PaymentAPI
import PaymentCore
import RedisClient
import RedisTestSupport
import Testing

/// The hostile review's findings as a client sees them over HTTP.
@Suite("review findings over HTTP", .redisServer())
struct ReviewFindingsHTTPTests {
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

    @Test(arguments: [
        ("/pay", HTTPRequest.Method.get, "POST"), ("/pay", .put, "POST"), ("/pay", .delete, "POST"),
        ("/ledger/someone", .post, "GET, HEAD"), ("/healthz", .post, "GET, HEAD"), ("/metrics", .delete, "GET, HEAD"),
    ])
    func aKnownPathWithTheWrongMethodIs405WithAllow(path: String, method: HTTPRequest.Method, allow: String) async throws {
        try await withApp { client in
            let response = try await client.executeRequest(uri: path, method: method, headers: [:], body: nil)
            expectProblem(response, .methodNotAllowed, type: "method-not-allowed")
            #expect(response.headers[.allow] == allow)
        }
    }

    @Test func headOfAGetRouteAndUnknownPathsAreUnchanged() async throws {
        try await withApp { client in
            #expect(try await client.executeRequest(uri: "/healthz", method: .head, headers: [:], body: nil).status == .ok)
            expectProblem(try await client.executeRequest(uri: "/nowhere", method: .get, headers: [:], body: nil), .notFound, type: "not-found")
        }
    }

    @Test(arguments: [
        UnknownOutcome.Cause.recordUnconfirmed("redis timeout error"),
        .notReplicated(ReplicaShortfall(acknowledged: 0, required: 1)),
        .processor("the processor answered 502", recorded: true),
        .processor("the processor refused the request with 401; an earlier attempt's outcome is still unknown", recorded: false),
    ])
    func anUnknownOutcomeNeverClaimsNothingWasCharged(cause: UnknownOutcome.Cause) throws {
        do {
            _ = try PaymentResponses.response(for: .outcomeUnknown(UnknownOutcome(cause, paymentID: "pay_0123")))
            Issue.record("an unknown outcome must be a problem")
        } catch let problem as Problem {
            #expect(problem.status == .serviceUnavailable)
            #expect(problem.slug == "outcome-unknown")
            #expect(problem.headers[.retryAfter] != nil)
            #expect(!problem.detail.contains("nothing was charged"))
            #expect(!problem.detail.contains("charged nothing"))
            #expect(problem.detail.contains("same idempotency key"))
            #expect(problem.members.contains { $0.name == "payment_id" && $0.value == "pay_0123" })
        }
    }

    @Test func aFailedReleaseIsNotCalledAReleasedKey() throws {
        for (released, expected) in [(true, "the key was released"), (false, "could not be released")] {
            do {
                _ = try PaymentResponses.response(for: .processorFailed("declined by chance", keyReleased: released))
                Issue.record("a processor failure must be a problem")
            } catch let problem as Problem {
                #expect(problem.status == .internalServerError)
                #expect(problem.detail.contains(expected), "\(problem.detail)")
            }
        }
    }

    @Test func textLogsQuoteAndEscapeClientText() {
        #expect(JSONLogHandler.logfmt("plain-value_1") == "plain-value_1")
        #expect(JSONLogHandler.logfmt("a b") == #""a b""#)
        #expect(JSONLogHandler.logfmt("x\n2026-12-01T00:00:00Z critical forged") == #""x\n2026-12-01T00:00:00Z critical forged""#)
        #expect(JSONLogHandler.logfmt(#"k" level=critical"#) == #""k\" level=critical""#)
        #expect(JSONLogHandler.logfmt("a=b") == #""a=b""#)
        #expect(JSONLogHandler.logfmt("\u{1B}[31mred\r") == #""\u{1b}[31mred\r""#)
        #expect(JSONLogHandler.logfmt("line\u{2028}sep") == #""line\u{2028}sep""#)
        #expect(JSONLogHandler.logfmt("") == #""""#)
        #expect(JSONLogHandler.logfmt("KES\u{212A}") == "\"KES\u{212A}\"", "non-ASCII stays readable, quoted")
    }
}

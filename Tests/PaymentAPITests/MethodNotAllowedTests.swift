import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import PaymentAPI
import PaymentCore
import RedisTestSupport
import Testing

/// A known path asked with a method it does not take is 405 with `Allow`, derived from the
/// router's own routes; unknown paths stay 404 and HEAD of a GET route stays 200.
@Suite("405 with Allow for a wrong method", .redisServer())
struct MethodNotAllowedTests {
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
}

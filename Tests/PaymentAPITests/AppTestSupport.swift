import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PaymentAPI
import PaymentRedis
import RedisClient
import RedisTestSupport
import Testing

/// Builds the real application against the suite's redis-server (or `redisURL`), served
/// on a loopback port, with defaults that keep tests deterministic: no simulated
/// failures, no rate limits.
func withApp(
    redisURL: String? = nil,
    watchdog: Bool = true,
    tracing: RequestTracing? = nil,
    _ configure: (inout AppConfiguration) -> Void = { _ in },
    _ test: @Sendable (any TestClientProtocol) async throws -> Void
) async throws {
    let url = try redisURL ?? RedisServer.required().url
    var configuration = AppConfiguration(redis: PaymentRedisConfiguration(store: try RedisClientConfiguration(url: url)))
    configuration.paymentFailureRate = 0
    configuration.userRateLimit = nil
    // The reconciler's queue is one per Redis: the apps of concurrent tests would resolve
    // each other's payments against their own processors. A test that wants it sets it.
    configuration.reconcileInterval = .seconds(3_600)
    // Over a real socket: `POST /pay` and the probes are served by the channel handler,
    // which only a live server has.
    configuration.httpHost = "127.0.0.1"
    configuration.httpPort = 0
    configure(&configuration)
    var logger = Logger(label: "payment-api-test")
    logger.logLevel = .critical
    let app = try buildApplication(
        configuration: configuration, readiness: Readiness(), logger: logger, watchdog: watchdog, tracing: tracing
    )
    try await app.test(.live, test)
}

/// A user id no other test uses.
func uniqueUser(_ name: String) -> String {
    "\(name)-\(UInt32.random(in: 0...UInt32.max))"
}

func payBody(user: String, amount: String = "100.0", currency: String? = "USD", key: String? = "key-1") -> ByteBuffer {
    var fields = [#""user_id":"\#(user)""#, #""amount":\#(amount)"#]
    if let currency { fields.append(#""currency":"\#(currency)""#) }
    if let key { fields.append(#""idempotency_key":"\#(key)""#) }
    return ByteBuffer(string: "{" + fields.joined(separator: ",") + "}")
}

extension TestClientProtocol {
    func pay(_ body: ByteBuffer, headers: HTTPFields = [.contentType: "application/json"]) async throws -> TestResponse {
        try await executeRequest(uri: "/pay", method: .post, headers: headers, body: body)
    }

    /// Polls /readyz until it answers `status` or `timeout` passes; returns the last answer.
    /// 30 s, as `waitUntil`: it returns at the first answer with `status`, and 5 s was
    /// once too little for a loaded CI machine.
    func waitForReadiness(_ status: HTTPResponse.Status, timeout: Duration = .seconds(30)) async throws -> TestResponse {
        let deadline = ContinuousClock.now + timeout
        while true {
            let response = try await executeRequest(uri: "/readyz", method: .get, headers: [:], body: nil)
            if response.status == status || ContinuousClock.now >= deadline { return response }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

extension TestClientProtocol {
    /// `POST /pay` on a connection of its own. A live client sends its requests on one
    /// connection, answered one after the other: a request meant to overlap another (a
    /// herd, a second attempt while the first holds the key) needs its own.
    func payOnItsOwnConnection(_ body: ByteBuffer) async throws -> TestClient.Response {
        guard let port else { throw TestSetupError("the test client has no port: is it live?") }
        return try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
            try await client.execute(
                TestClient.Request("/pay", method: .post, authority: "localhost", headers: [.contentType: "application/json"], body: body)
            )
        }
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A response as the checks read it, from the live client or from a client of its own.
protocol TestAnswer {
    var status: HTTPResponse.Status { get }
    var headers: HTTPFields { get }
    var text: String { get }
}

extension TestResponse: TestAnswer {
    var text: String { String(buffer: body) }
}

extension TestClient.Response: TestAnswer {
    var text: String { body.map { String(buffer: $0) } ?? "" }
}

/// Checks that a response is a problem+json document with this status and type.
func expectProblem(
    _ response: some TestAnswer,
    _ status: HTTPResponse.Status,
    type: String,
    detailContains: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(response.status == status, "\(response.text)", sourceLocation: sourceLocation)
    #expect(response.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
    let text = response.text
    #expect(text.contains(#""type":"/problems/\#(type)""#), "\(text)", sourceLocation: sourceLocation)
    #expect(text.contains(#""status":\#(status.code)"#), "\(text)", sourceLocation: sourceLocation)
    #expect(text.contains(#""title":""#), sourceLocation: sourceLocation)
    #expect(text.contains(#""request_id":""#), sourceLocation: sourceLocation)
    if let detailContains {
        #expect(text.contains(detailContains), "\(text)", sourceLocation: sourceLocation)
    }
}

import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// HTTP through AsyncHTTPClient: a pooled, keep-alive connection set per target.
public final class AsyncHTTPClientTransport: SimulatorTransport {
    private let client: HTTPClient
    private let authorization: String?

    /// `connectionsPerTarget` should be at least the run's concurrency, so requests do
    /// not queue for a connection inside the client. `apiKey` (`<key-id>.<secret>`) is
    /// sent as a bearer token on every request.
    public init(connectionsPerTarget: Int, apiKey: String? = nil) {
        authorization = apiKey.map { "Bearer \($0)" }
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60),
            concurrentHTTP1ConnectionsPerHostSoftLimit: max(8, connectionsPerTarget)
        )
        configuration.httpVersion = .http1Only
        configuration.decompression = .disabled
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    public func post(_ url: String, body: [UInt8], timeout: Duration) async throws(TransportError) -> HTTPResult {
        try await execute(Self.payment(url, body: body), timeout: timeout)
    }

    public func post(_ url: String, body: [UInt8], timeout: Duration, traceparent: String) async throws(TransportError) -> HTTPResult {
        var request = Self.payment(url, body: body)
        request.headers.add(name: "traceparent", value: traceparent)
        return try await execute(request, timeout: timeout)
    }

    private static func payment(_ url: String, body: [UInt8]) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        return request
    }

    public func get(_ url: String, timeout: Duration) async throws(TransportError) -> HTTPResult {
        try await execute(HTTPClientRequest(url: url), timeout: timeout)
    }

    public func getExternal(_ url: String, timeout: Duration, maximumBodyBytes: Int) async throws(TransportError) -> HTTPResult {
        try await execute(HTTPClientRequest(url: url), timeout: timeout, authorized: false, maximumBodyBytes: maximumBodyBytes)
    }

    /// The most a `Retry-After` is taken for: a day. A server that passes on a
    /// processor's absurd value (9223372036854775807 s) must not put a client to sleep
    /// for ever, nor overflow its clock.
    static let maximumRetryAfter = 86_400

    /// `Retry-After` in delay-seconds; nil for anything else (an HTTP date, a negative or
    /// malformed number), clamped to `maximumRetryAfter`. Digits beyond Int still clamp.
    static func retryAfter(_ header: String) -> Duration? {
        guard !header.isEmpty, header.utf8.count <= 64, header.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return .seconds(Int(header).map { min($0, maximumRetryAfter) } ?? maximumRetryAfter)
    }

    private func execute(
        _ request: HTTPClientRequest, timeout: Duration, authorized: Bool = true, maximumBodyBytes: Int = 1 << 20
    ) async throws(TransportError) -> HTTPResult {
        var request = request
        if authorized, let authorization { request.headers.add(name: "Authorization", value: authorization) }
        do {
            let response = try await client.execute(request, timeout: TimeAmount(timeout))
            let body = try await response.body.collect(upTo: maximumBodyBytes)
            let retryAfter = response.headers.first(name: "Retry-After").flatMap(Self.retryAfter)
            let replayed = response.headers.first(name: "Idempotent-Replayed") == "true"
            return HTTPResult(status: Int(response.status.code), retryAfter: retryAfter, replayed: replayed, body: Array(body.readableBytesView))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw .timeout
        } catch {
            throw .connection("\(error)")
        }
    }
}

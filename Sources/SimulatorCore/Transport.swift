/// What one HTTP exchange gave: enough for the simulator to decide and to verify.
public struct HTTPResult: Sendable, Hashable {
    public let status: Int
    /// `Retry-After` in seconds, when the server sent one.
    public let retryAfter: Duration?
    /// `Idempotent-Replayed: true`: the server answered from a stored response.
    public let replayed: Bool
    public let body: [UInt8]

    public init(status: Int, retryAfter: Duration? = nil, replayed: Bool = false, body: [UInt8] = []) {
        self.status = status
        self.retryAfter = retryAfter
        self.replayed = replayed
        self.body = body
    }
}

/// An attempt that got no HTTP answer.
public enum TransportError: Error, Hashable, Sendable {
    case timeout
    case connection(String)

    /// The key in `status_counts`.
    public var label: String {
        switch self {
        case .timeout: "timeout"
        case .connection: "connection_error"
        }
    }
}

/// The simulator's HTTP: AsyncHTTPClient in the binary, a double in tests.
public protocol SimulatorTransport: Sendable {
    func post(_ url: String, body: [UInt8], timeout: Duration) async throws(TransportError) -> HTTPResult
    /// A payment's attempt, with its W3C `traceparent` (PaymentTrace).
    func post(_ url: String, body: [UInt8], timeout: Duration, traceparent: String) async throws(TransportError) -> HTTPResult
    func get(_ url: String, timeout: Duration) async throws(TransportError) -> HTTPResult
    /// A GET to a service that is not payment-api (the processor's `GET /charges`):
    /// without the API key, which is payment-api's secret, and with a larger body limit,
    /// because that list is not paged.
    func getExternal(_ url: String, timeout: Duration, maximumBodyBytes: Int) async throws(TransportError) -> HTTPResult
}

extension SimulatorTransport {
    /// Test doubles that do not look at the trace: the plain POST.
    public func post(_ url: String, body: [UInt8], timeout: Duration, traceparent: String) async throws(TransportError) -> HTTPResult {
        try await post(url, body: body, timeout: timeout)
    }

    /// Test doubles hold no secret and no body limit: a plain GET.
    public func getExternal(_ url: String, timeout: Duration, maximumBodyBytes: Int) async throws(TransportError) -> HTTPResult {
        try await get(url, timeout: timeout)
    }
}

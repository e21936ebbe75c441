import AsyncHTTPClient
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOSSL
import PaymentCore
import ServiceLifecycle
import StrictJSON
import Tracing

/// The processor over HTTP (`PROCESSOR_URL`): `POST /charges` with the payment's stable
/// processor key as `Idempotency-Key`, and the reconciler's read-only
/// `GET /charges/{processor key}` (docs/processor.md).
///
/// What the answers mean is `ProcessorReply`'s (PaymentCore, fuzzed): every byte from
/// the processor is untrusted. One deadline, `PROCESSOR_TIMEOUT_MS`, covers the whole
/// exchange, head and body: a processor that sends its head and stalls is given up as
/// unknown at the deadline like one that never answers.
public final class HTTPPaymentProcessor: PaymentProcessor, Service {
    private let client: HTTPClient
    private let configuration: ProcessorConfiguration
    private let token: CredentialFile?
    private let metrics: ProcessorMetrics
    private let logger: Logger

    /// - Parameter tracer: AsyncHTTPClient's client span per exchange, a child of the
    ///   payment's span, whose `traceparent` goes to the processor; nil: no span, no header.
    public init(
        configuration: ProcessorConfiguration, metricsFactory: any MetricsFactory, logger: Logger, tracer: (any Tracer)? = nil
    ) throws(CredentialFileError) {
        self.configuration = configuration
        token = try configuration.tokenFile.map { path throws(CredentialFileError) in try CredentialFile(path: path) }
        metrics = ProcessorMetrics(factory: metricsFactory)
        self.logger = logger
        var http = HTTPClient.Configuration()
        http.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.maxConnections)
        http.httpVersion = .http1Only
        http.decompression = .disabled
        // A redirect would send the charge somewhere the operator did not configure.
        http.redirectConfiguration = .disallow
        http.timeout = .init(connect: TimeAmount(min(configuration.timeout, .seconds(1))))
        // Explicitly, not the global one AsyncHTTPClient would take by default.
        http.tracing.tracer = tracer
        if let caFile = configuration.caFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(caFile)
            http.tlsConfiguration = tls
        }
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
    }

    public func charge(_ charge: ProcessorCharge) async -> ProcessorResult {
        let start = ContinuousClock.now
        var request = HTTPClientRequest(url: configuration.chargesURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Idempotency-Key", value: charge.identity.processorKey)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token.value)") }
        var body = JSONWriter()
        body.object { object in
            object.field("amount_minor", integer: charge.request.amountMinor)
            object.field("currency", string: charge.request.currency.code)
            object.field("reference", string: charge.identity.paymentID)
        }
        request.body = .bytes(ByteBuffer(bytes: body.bytes))

        let kind: ProcessorReply.Kind
        let result: ProcessorResult
        switch await exchange(request) {
        case .answer(let status, let retryAfter, let answer):
            (kind, result) = ProcessorReply.charge(status: status, retryAfter: retryAfter, body: answer)
        case .failed(let failure, let reason):
            (kind, result) = (failure, .unknown(reason))
        }
        metrics.record(kind, duration: ContinuousClock.now - start)
        if case .unknown(let reason) = result {
            logger.warning("processor outcome unknown", metadata: ["reason": .string(reason), "payment_id": .string(charge.identity.paymentID)])
        }
        return result
    }

    public func lookup(processorKey: String) async -> ProcessorLookup {
        var request = HTTPClientRequest(url: configuration.chargesURL + "/" + processorKey)
        request.method = .GET
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token.value)") }
        switch await exchange(request) {
        case .answer(let status, _, let answer):
            return ProcessorReply.lookup(status: status, body: answer)
        case .failed(_, let reason):
            return .unknown(reason)
        }
    }

    private enum Exchange: Sendable {
        case answer(status: Int, retryAfter: String?, body: [UInt8])
        case failed(ProcessorReply.Kind, String)
    }

    /// One request and its whole answer, head and body, within `PROCESSOR_TIMEOUT_MS`.
    /// AsyncHTTPClient's deadline ends when the head arrives, so the body is read under a
    /// deadline of our own; a body over `ProcessorReply.maximumBodyBytes` is a failure.
    private func exchange(_ request: HTTPClientRequest) async -> Exchange {
        let timeout = configuration.timeout
        let client = self.client
        return await firstWithin(timeout, otherwise: { .failed(.timeout, "no whole answer within \(timeout)") }) {
            do {
                let response = try await client.execute(request, deadline: .now() + TimeAmount(timeout))
                // Read once, here: a repeated header is not the contract's either.
                let retryAfter = response.headers["Retry-After"]
                let body = try await response.body.collect(upTo: ProcessorReply.maximumBodyBytes)
                return .answer(
                    status: Int(response.status.code), retryAfter: retryAfter.count == 1 ? retryAfter[0] : nil,
                    body: Array(body.readableBytesView)
                )
            } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
                return .failed(.timeout, "no answer within \(timeout)")
            } catch is CancellationError {
                return nil
            } catch {
                return .failed(.connectionError, "the exchange failed: \(ProcessorReply.sanitized(String(describing: error)))")
            }
        }
    }

    /// Closes the pooled connections after the HTTP server has stopped.
    public func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}

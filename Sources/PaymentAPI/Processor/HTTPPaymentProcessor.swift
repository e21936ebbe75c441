import AsyncHTTPClient
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOSSL
import PaymentCore
import ServiceLifecycle

/// The processor over HTTP (`PROCESSOR_URL`): `POST /charges` with the payment's stable
/// processor key as `Idempotency-Key` (docs/processor.md).
///
/// Only a 2xx is a charge and only a 402 a decline; a 409 is the processor still working
/// on the key; another 4xx refused the request (nothing charged). Anything that leaves
/// the answer unknown — a 5xx, a timeout, a dropped connection, a body that is not the
/// contract's — is `.unknown`: the retry asks again with the same key, never claiming
/// that nothing happened.
final class HTTPPaymentProcessor: PaymentProcessor, Service {
    private let client: HTTPClient
    private let configuration: ProcessorConfiguration
    private let token: CredentialFile?
    private let metrics: ProcessorMetrics
    private let logger: Logger

    /// The longest body read from the processor: its answers are a few members.
    static let maximumAnswerBytes = 16_384

    init(configuration: ProcessorConfiguration, metricsFactory: any MetricsFactory, logger: Logger) throws(CredentialFileError) {
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
        if let caFile = configuration.caFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(caFile)
            http.tlsConfiguration = tls
        }
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
    }

    func charge(_ charge: ProcessorCharge) async -> ProcessorResult {
        let start = ContinuousClock.now
        let (outcome, result) = await exchange(charge)
        metrics.record(outcome, duration: ContinuousClock.now - start)
        if case .unknown(let reason) = result {
            logger.warning("processor outcome unknown", metadata: ["reason": .string(reason), "payment_id": .string(charge.identity.paymentID)])
        }
        return result
    }

    private func exchange(_ charge: ProcessorCharge) async -> (ProcessorMetrics.Outcome, ProcessorResult) {
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

        let status: Int
        let answer: [UInt8]
        let retryAfter: Int?
        do {
            let response = try await client.execute(request, deadline: .now() + TimeAmount(configuration.timeout))
            status = Int(response.status.code)
            retryAfter = response.headers.first(name: "Retry-After").flatMap(Int.init)
            answer = Array(try await response.body.collect(upTo: Self.maximumAnswerBytes).readableBytesView)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return (.timeout, .unknown("no answer within \(configuration.timeout)"))
        } catch {
            return (.connectionError, .unknown("the connection failed: \(error)"))
        }
        return Self.interpret(status: status, body: answer, retryAfterSeconds: retryAfter)
    }

    /// What an answer means for the payment (the contract of docs/processor.md).
    static func interpret(status: Int, body: [UInt8], retryAfterSeconds: Int?) -> (ProcessorMetrics.Outcome, ProcessorResult) {
        let members = (try? JSONParser.parse(body)).flatMap { value -> [String: String]? in
            guard case .object(let fields) = value else { return nil }
            var strings: [String: String] = [:]
            for (name, value) in fields { if case .string(let text) = value { strings[name] = text } }
            return strings
        }
        switch status {
        case 200..<300:
            guard let chargeID = members?["charge_id"], !chargeID.isEmpty else {
                // A 2xx does say "charged", but an answer outside the contract is not one
                // to store a receipt on: the retry asks again with the same key.
                return (.invalidResponse, .unknown("a \(status) answer without a charge_id"))
            }
            return (.charged, .charged(chargeID: chargeID))
        case 402:
            guard let code = members?["code"], !code.isEmpty else {
                return (.invalidResponse, .unknown("a 402 answer without a code"))
            }
            return (.declined, .declined(code: code, message: members?["message"] ?? "declined"))
        case 409:
            return (.busy, .busy(retryAfterMilliseconds: max(1, retryAfterSeconds ?? 1) * 1_000))
        case 400..<500:
            return (.refused, .failed("the processor refused the request with \(status) \(members?["code"] ?? "")"))
        default:
            return (.serverError, .unknown("the processor answered \(status)"))
        }
    }

    /// Closes the pooled connections after the HTTP server has stopped.
    func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}

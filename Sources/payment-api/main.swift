// payment-api: reads the configuration, then runs the server in a ServiceGroup that
// drains on SIGTERM/SIGINT (readiness 503, keep serving, stop, close Redis, exit 0).
import Configuration
import Foundation
import Logging
import OTel
import PaymentAPI
import PaymentRedis
import ServiceLifecycle
import Tracing
import UnixSignals

// Environment first, then --kebab-case flags: REDIS_URL or --redis-url.
let reader = ConfigReader(providers: [EnvironmentVariablesProvider(), CommandLineArgumentsProvider()])
let configuration: AppConfiguration
do {
    configuration = try AppConfiguration { name in
        let key = ConfigKey(name.lowercased().split(separator: "_").map(String.init))
        return reader.string(forKey: key, isSecret: name.contains("PASSWORD"))
    }
} catch {
    FileHandle.standardError.write(Data("payment-api: \(error)\n".utf8))
    exit(78)  // EX_CONFIG
}

// Traces go out over OTLP/HTTP when an endpoint is set; the other OTEL_* variables
// (service name, sampler, headers, batching) are read by swift-otel itself.
let environment = ProcessInfo.processInfo.environment
let tracingOn = TracingEnvironment.isOn(environment)
if tracingOn, case let problems = TracingEnvironment.problems(environment), !problems.isEmpty {
    FileHandle.standardError.write(Data(problems.map { "payment-api: \($0)\n" }.joined().utf8))
    exit(78)  // EX_CONFIG
}

let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
let format: JSONLogHandler.Format = configuration.logFormat == .json ? .json : .text
LoggingSystem.bootstrap(
    { label, metadataProvider in
        var handler = JSONLogHandler(label: label, level: level, format: format)
        handler.metadataProvider = metadataProvider
        return handler
    },
    // A line written inside a span (its context current) carries trace_id and span_id.
    metadataProvider: tracingOn ? OTel.makeLoggingMetadataProvider() : nil
)
let logger = Logger(label: "payment-api")

var tracing: RequestTracing?
var tracingService: (any Service)?
if tracingOn {
    var otel = OTel.Configuration.default
    otel.serviceName = "payment-api"
    // Our logs are JSON lines on stdout and our metrics Prometheus's: only traces go out.
    otel.logs.enabled = false
    otel.metrics.enabled = false
    otel.diagnosticLogger = .custom(Logger(label: "swift-otel"))
    do {
        let (tracer, service) = try OTel.makeTracingBackend(configuration: otel)
        tracing = RequestTracing(tracer: tracer)
        tracingService = service
    } catch {
        FileHandle.standardError.write(Data("payment-api: tracing: \(error)\n".utf8))
        exit(78)  // EX_CONFIG
    }
}

let readiness = Readiness()
let application = try buildApplication(configuration: configuration, readiness: readiness, logger: logger, tracing: tracing)
logger.info("starting", metadata: [
    "address": "\(configuration.httpHost):\(configuration.httpPort)",
    "redis": "\(configuration.redis.storeDescription)",
    "version": "\(PaymentMetrics.version)",
    "tracing": "\(tracingOn)",
])

var groupConfiguration = ServiceGroupConfiguration(
    // The span exporter first, so it stops last: it sends the drain's spans too.
    services: (tracingService.map { [ServiceGroupConfiguration.ServiceConfiguration(service: $0)] } ?? []) + [
        .init(service: application),
        // Last, so it hears of the shutdown first.
        .init(service: ShutdownDrain(readiness: readiness, drain: configuration.shutdownDrain, logger: logger)),
    ],
    gracefulShutdownSignals: [.sigterm, .sigint],
    logger: logger
)
groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownDrain + .seconds(15)
do {
    try await ServiceGroup(configuration: groupConfiguration).run()
} catch {
    logger.error("stopped on an error", metadata: ["error": "\(error)"])
    // Log lines are written by a thread of their own: write the last ones before exiting.
    JSONLogHandler.flush()
    exit(1)
}
logger.info("stopped")
JSONLogHandler.flush()

import Hummingbird
import HummingbirdCore
import Logging
import Metrics
import NIOCore
import NIOPosix
import PaymentCore
import PaymentProcessors
import PaymentRedis
import Prometheus
import ServiceLifecycle
import Tracing

/// Builds the whole server from its configuration. `payment-api`'s main and the tests
/// call the same function, so what is tested is what runs.
///
/// The Redis client and the readiness monitor are the application's services: when the
/// application shuts down, the HTTP server stops first and Redis closes last.
public func buildApplication(
    configuration: AppConfiguration,
    readiness: Readiness,
    logger: Logger,
    watchdog: Bool = true,
    tracing: RequestTracing? = nil
) throws -> some ApplicationProtocol {
    // A registry per application: metrics need no global bootstrap, and tests that build
    // several applications in one process each see their own.
    let registry = PrometheusCollectorRegistry()
    let factory = PrometheusMetricsFactory(registry: registry)
    let metrics = PaymentMetrics(factory: factory)

    let backend = try PaymentRedisBackend(
        configuration: configuration.redis, keyPrefix: configuration.keyPrefix, globalRateLimit: configuration.globalRateLimit,
        waitReplicas: configuration.waitReplicas, waitTimeout: configuration.waitTimeout,
        waitConnections: configuration.waitConnections, logger: logger, metricsFactory: factory, tracer: tracing?.tracer
    )
    let processor: any PaymentProcessor
    var httpProcessor: HTTPPaymentProcessor?
    if let processorConfiguration = configuration.processor {
        let http = try HTTPPaymentProcessor(configuration: processorConfiguration, metricsFactory: factory, logger: logger, tracer: tracing?.tracer)
        logger.info("processor over HTTP", metadata: [
            "url": "\(processorConfiguration.chargesURL)", "timeout": "\(processorConfiguration.timeout)",
            "token": "\(processorConfiguration.tokenFile != nil)",
        ])
        (processor, httpProcessor) = (http, http)
    } else {
        processor = SimulatedProcessor(failureRate: configuration.paymentFailureRate, latency: configuration.paymentLatency)
    }
    let store = backend.store
    let service = PaymentService(
        store: store,
        processor: processor,
        globalRateLimiter: backend.globalRateLimiter,
        keyLock: backend.keyLock,
        replicaGate: backend.replicaGate,
        settings: .init(
            lease: configuration.lockLease,
            retention: configuration.idempotencyTTL,
            userRateLimit: configuration.userRateLimit,
            watchdog: watchdog && configuration.leaseWatchdog,
            identitySecret: configuration.identitySecret,
            // The processor's deadline covers its exchange; the margin covers the rest of
            // the attempt (the answer's interpretation, a slow scheduler).
            maximumWork: configuration.processor.map { $0.timeout + .seconds(1) },
            reconcileDelay: configuration.reconcileDelay
        )
    )
    let reconciler = Reconciler(
        queue: store, store: store, processor: processor,
        settings: .init(
            delay: configuration.reconcileDelay, interval: configuration.reconcileInterval,
            maximumAttempts: configuration.reconcileMaxAttempts,
            lease: max(configuration.lockLease, (configuration.processor?.timeout ?? .zero) * 2), retention: configuration.idempotencyTTL
        ),
        tracer: tracing?.tracer
    )
    if !configuration.leaseWatchdog {
        logger.critical("FAULT INJECTION: the lease watchdog is off (FAULT_INJECTION_NO_WATCHDOG); work longer than LOCK_LEASE_MS loses its lock")
    }

    // The Redis clients close after the HTTP server has stopped.
    var services = backend.services
    if let httpProcessor { services.append(httpProcessor) }
    let replicasInSync = Gauge(label: "payment_replicas_in_sync", factory: factory)
    replicasInSync.record(backend.replicaGate == nil ? 1 : 0)
    services.append(ReadinessMonitor(check: backend.readinessCheck, replicasInSync: replicasInSync, readiness: readiness, logger: logger))
    services.append(ReconcilerService(reconciler: reconciler, metricsFactory: factory, logger: logger))
    var keyFile: APIKeyFile?
    if let path = configuration.apiKeysFile, let keys = configuration.apiKeys {
        let file = APIKeyFile(path: path, keys: keys, staleAfter: configuration.apiKeysStaleAfter, metricsFactory: factory)
        services.append(APIKeyReloader(file: file, interval: configuration.apiKeysReloadInterval, logger: logger))
        keyFile = file
        logger.info("authentication on", metadata: ["api_keys_file": "\(path)", "keys": "\(keys.count)"])
    } else {
        logger.warning("AUTHENTICATION IS OFF: API_KEYS_FILE is not set, so any client can pay and read ledgers for any user")
    }

    let inflight = InflightLimit(limit: configuration.maxInflightRequests, metrics: metrics)
    let timers = RequestTimers(metrics: metrics)
    let router = try buildRouter(
        store: service.store, identitySecret: configuration.identitySecret, registry: registry, inflight: inflight, timers: timers,
        keyFile: keyFile, tracing: tracing
    )
    let fastRoutes = FastRoutes(
        payments: PaymentEndpoint(service: service, maxBodyBytes: configuration.maxBodyBytes, metrics: metrics),
        readiness: readiness, inflight: inflight, keyFile: keyFile, timers: timers, logger: logger, tracing: tracing
    )
    // One group for the server's sockets and Redis's connections (RedisClient's default):
    // a payment served on its socket's event loop finds a Redis connection on that loop.
    let group = MultiThreadedEventLoopGroup.singleton
    return Application(
        router: router,
        server: .http1(configuration: httpConfiguration(idleTimeout: configuration.httpIdleTimeout), routes: fastRoutes),
        configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort)),
        services: services,
        eventLoopGroupProvider: .shared(group),
        logger: logger
    )
}

/// HTTP/1.1 limits. Request heads are small here (a bearer token, an idempotency key), so
/// the decoder refuses far less than NIO's defaults of 80 KiB and 1000 fields: a huge
/// header or thousands of them end the connection before any handler runs.
func httpConfiguration(idleTimeout: Duration) -> HTTP1Channel.Configuration {
    HTTP1Channel.Configuration(
        idleTimeout: TimeAmount(idleTimeout),
        httpDecoderConfiguration: .init(maxHeaderFieldSize: 8_192, maxHeaderListSize: 32_768, maxHeaderFieldCount: 100)
    )
}

/// The router's routes and the middleware around them, outermost first. `POST /pay` and
/// the probes are not here: `FastRouteHandler` serves them on the event loop, with the
/// same in-flight count, authentication and timers.
func buildRouter(
    store: any IdempotencyStore,
    identitySecret: PaymentIdentity.Secret,
    registry: PrometheusCollectorRegistry,
    inflight: InflightLimit,
    timers: RequestTimers,
    keyFile: APIKeyFile?,
    tracing: RequestTracing? = nil
) throws -> Router<AppRequestContext> {
    // HEAD of every GET route is answered from it (headers, no body), as HTTP expects.
    let router = Router(context: AppRequestContext.self, options: .autoGenerateHeadEndpoints)
    router.add(middleware: RequestIDMiddleware())
    if let tracing { router.add(middleware: ServerSpanMiddleware(tracing: tracing)) }
    router.add(middleware: MetricsMiddleware(timers: timers))
    router.add(middleware: AccessLogMiddleware())
    router.add(middleware: ProblemMiddleware())
    router.add(middleware: InflightLimitMiddleware(limit: inflight))
    if let keyFile { router.add(middleware: AuthMiddleware(file: keyFile)) }
    LedgerController(store: store).addRoutes(to: router)
    PaymentLookupController(store: store, secret: identitySecret).addRoutes(to: router)
    HealthController(registry: registry).addRoutes(to: router)
    try OpenAPIController().addRoutes(to: router)
    MethodNotAllowed.addForEveryRoute(of: router, servedBeside: FastRoutes.served)
    return router
}

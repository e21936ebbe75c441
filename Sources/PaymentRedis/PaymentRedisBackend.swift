import Logging
import Metrics
import PaymentCore
import RedisClient
import ServiceLifecycle
import Tracing

/// Everything the server keeps in Redis, built from its configuration: the store, the
/// shared bucket, the Redlock lock, the replica gate and the readiness check, over the
/// clients they need. The server sees PaymentCore's ports and this type, never a Redis
/// client.
public struct PaymentRedisBackend: Sendable {
    public let store: RedisIdempotencyStore
    public let globalRateLimiter: RedisRateLimiter?
    /// Redlock mode (`REDLOCK_URLS`); nil: the store's own per-key lock.
    public let keyLock: Redlock?
    /// With `REDIS_WAIT_REPLICAS`: refuses payments while replicas are short.
    public let replicaGate: ReplicaSync?
    public let readinessCheck: RedisReadinessCheck
    /// The clients, to run as services: they close after the HTTP server has stopped.
    public let services: [any Service]

    /// - Parameters:
    ///   - waitReplicas: `REDIS_WAIT_REPLICAS`; with more than 0, commits go over clients
    ///     of their own (`waitConnections` per node) whose deadline covers `waitTimeout`.
    ///   - tracer: with tracing on, every client makes a span per command sent inside a
    ///     request's span.
    public init(
        configuration: PaymentRedisConfiguration,
        keyPrefix: String = "",
        globalRateLimit: RateLimitPolicy?,
        waitReplicas: Int = 0,
        waitTimeout: Duration = .seconds(1),
        waitConnections: Int = 8,
        logger: Logger,
        metricsFactory: any MetricsFactory,
        tracer: (any Tracer)? = nil
    ) throws(RedisClientError) {
        var configuration = configuration
        configuration.store.tracer = tracer
        for index in configuration.lockNodes.indices { configuration.lockNodes[index].tracer = tracer }
        let redis = try RedisClient(configuration: configuration.store, logger: logger, metricsFactory: metricsFactory)
        let keys = PaymentKeys(prefix: keyPrefix)
        var services: [any Service] = [redis]
        var redlock: Redlock?
        if !configuration.lockNodes.isEmpty {
            let nodes = try configuration.lockNodes.map { node throws(RedisClientError) in
                try RedisClient(configuration: node, logger: logger, metricsFactory: metricsFactory)
            }
            redlock = Redlock(nodes: nodes, keys: keys)
            services += nodes
            logger.info("redlock on", metadata: [
                "nodes": "\(nodes.count)", "node_timeout": "\(configuration.lockNodes[0].commandTimeout)",
            ])
        }
        // WAIT blocks its connection: the acknowledged commits get a client of their own.
        var acknowledgement: ReplicaAcknowledgement?
        if waitReplicas > 0 {
            var ackConfiguration = configuration.store
            ackConfiguration.commandTimeout = configuration.store.commandTimeout + waitTimeout
            ackConfiguration.connectionsPerNode = waitConnections
            let client = try RedisClient(configuration: ackConfiguration, logger: logger, metricsFactory: metricsFactory)
            acknowledgement = ReplicaAcknowledgement(client: client, replicas: waitReplicas, timeout: waitTimeout)
            services.append(client)
            logger.info("replica acknowledgements on", metadata: [
                "replicas": "\(waitReplicas)", "timeout": "\(waitTimeout)", "connections": "\(waitConnections)",
            ])
        }
        let replicaSync = waitReplicas > 0 ? ReplicaSync(required: waitReplicas, keys: keys) : nil
        store = RedisIdempotencyStore(client: redis, keys: keys, acknowledgement: acknowledgement)
        globalRateLimiter = globalRateLimit.map { RedisRateLimiter(client: redis, policy: $0, keys: keys) }
        keyLock = redlock
        replicaGate = replicaSync
        readinessCheck = RedisReadinessCheck(redis: redis, redlock: redlock, replicaSync: replicaSync)
        self.services = services
    }
}

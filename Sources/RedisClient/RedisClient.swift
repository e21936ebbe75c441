import Logging
import Metrics
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A pipelining Redis client: one node, or a Redis Cluster (`clusterSeeds`).
///
/// It owns a few connections per node (one per event loop by default) and spreads
/// commands over them round-robin; any number of concurrent callers share each
/// connection. In cluster mode commands go to the master of their key's slot. As a
/// `Service` it closes its connections when the service group shuts down, so an
/// application stops taking requests before Redis goes away.
public final class RedisClient: Sendable {
    public let configuration: RedisClientConfiguration
    private let routing: Routing
    private let metrics: RedisMetrics
    private let logger: Logger

    private enum Routing: Sendable {
        case standalone(RedisNode)
        case cluster(ClusterRouter)
    }

    public init(
        configuration: RedisClientConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) throws(RedisClientError) {
        try configuration.validate()
        self.configuration = configuration
        self.metrics = RedisMetrics(factory: metricsFactory)
        var logger = logger
        logger[metadataKey: "redis.node"] = "\(configuration.url.host):\(configuration.url.port)"
        self.logger = logger

        let timeout = TimeAmount(configuration.commandTimeout)
        let settings = RedisConnectionSlot.Settings(
            url: configuration.url,
            timeout: timeout,
            timeoutDescription: "\(timeout.nanoseconds / 1_000_000) ms",
            maxPending: configuration.maxPendingCommandsPerConnection,
            backoff: ReconnectBackoff(
                base: TimeAmount(configuration.reconnectBaseDelay),
                maximum: TimeAmount(configuration.reconnectMaxDelay)
            ),
            handshake: configuration.handshakeCommands,
            tls: configuration.url.tls ? try configuration.tls.makeContext() : nil,
            logger: logger
        )
        let loops: [any EventLoop]
        if let count = configuration.connectionsPerNode {
            loops = (0..<count).map { _ in eventLoopGroup.next() }
        } else {
            loops = Array(eventLoopGroup.makeIterator())
        }
        if let seeds = configuration.clusterSeeds {
            routing = .cluster(ClusterRouter(seeds: seeds, logger: logger) { url in
                var nodeSettings = settings
                nodeSettings.logger[metadataKey: "redis.node"] = "\(url.host):\(url.port)"
                return RedisNode(url: url, loops: loops, settings: nodeSettings)
            })
        } else {
            routing = .standalone(RedisNode(url: configuration.url, loops: loops, settings: settings))
        }
    }

    /// Sends one command; in cluster mode to the master of `routingKey`'s slot (any master
    /// without one). An error reply from Redis is thrown as a `.server` error.
    public func send(_ command: RedisCommand, routingKey: RESPArgument? = nil) async throws(RedisClientError) -> RESPValue {
        try await recorded(command) {
            switch routing {
            case .standalone(let node): try await node.send(command)
            case .cluster(let router): try await router.send(command, key: routingKey?.bytes)
            }
        }
    }

    /// Runs one exchange with metrics: duration by command, errors by kind; an error
    /// reply becomes a thrown `.server` error.
    private func recorded(_ command: RedisCommand, _ exchange: () async throws -> RESPValue) async throws(RedisClientError) -> RESPValue {
        let start = ContinuousClock.now
        let reply: RESPValue
        do {
            reply = try await exchange()
        } catch {
            let error = error as? RedisClientError ?? RedisClientError(.connection, "\(error)")
            metrics.recordError(error.kind)
            throw error
        }
        metrics.recordDuration(ContinuousClock.now - start, command: command.name)
        if case .error(let message) = reply {
            metrics.recordError(.server)
            throw RedisClientError(.server, message)
        }
        return reply
    }

    public func send(_ name: String, _ arguments: RESPArgument...) async throws(RedisClientError) -> RESPValue {
        // The first argument is the key of every single-key command this package sends.
        try await send(RedisCommand(name, arguments), routingKey: arguments.first)
    }

    /// Sends a command to every node (every master in cluster mode): SCRIPT LOAD, PING.
    public func sendToEveryNode(_ command: RedisCommand) async throws(RedisClientError) -> [RESPValue] {
        let nodes: [RedisNode]
        switch routing {
        case .standalone(let node): nodes = [node]
        case .cluster(let router): nodes = try await router.masters()
        }
        var replies: [RESPValue] = []
        for node in nodes {
            replies.append(try await recorded(command) { try await node.send(command) })
        }
        return replies
    }

    /// Runs a script by its SHA1 on the node of its first key. If that node does not know
    /// it (a restart, a failover, `SCRIPT FLUSH`), loads it there and tries once more.
    public func evaluate(_ script: RedisScript, keys: [RESPArgument], arguments: [RESPArgument]) async throws(RedisClientError) -> RESPValue {
        let command = RedisCommand("EVALSHA", [.string(script.sha1), .integer(keys.count)] + keys + arguments)
        do {
            return try await send(command, routingKey: keys.first)
        } catch where error.serverErrorCode == "NOSCRIPT" {
            try await load(script, routingKey: keys.first)
            return try await send(command, routingKey: keys.first)
        }
    }

    /// Loads a script so that EVALSHA finds it, on the node of `routingKey`.
    public func load(_ script: RedisScript, routingKey: RESPArgument? = nil) async throws(RedisClientError) {
        let reply = try await send(RedisCommand("SCRIPT", "LOAD", .string(script.source)), routingKey: routingKey)
        guard reply.string == script.sha1 else {
            throw RedisClientError(.protocol, "SCRIPT LOAD returned another SHA1 than the script's")
        }
    }

    /// One round trip to every node; throws when one does not answer PONG.
    public func ping() async throws(RedisClientError) {
        for reply in try await sendToEveryNode(RedisCommand("PING")) where reply.string != "PONG" {
            throw RedisClientError(.protocol, "PING was answered with \(reply)")
        }
    }

    /// Closes every connection; commands sent afterwards fail with `.shutdown`.
    public func shutdown() async {
        switch routing {
        case .standalone(let node): await node.shutdown()
        case .cluster(let router): await router.shutdown()
        }
        logger.debug("redis client shut down")
    }
}

extension RedisClient: Service {
    /// Waits for the service group's graceful shutdown (refreshing the cluster's slot map
    /// meanwhile), then closes the connections.
    public func run() async throws {
        if case .cluster(let router) = routing {
            await cancelWhenGracefulShutdown { await router.keepRefreshing() }
        } else {
            try? await gracefulShutdown()
        }
        await shutdown()
    }
}

extension RESPArgument {
    /// The bytes Redis hashes for the slot.
    var bytes: [UInt8] {
        switch self {
        case .string(let text): Array(text.utf8)
        case .bytes(let buffer): Array(buffer.readableBytesView)
        case .integer(let value): Array(String(value).utf8)
        }
    }
}

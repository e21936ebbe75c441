import Logging
import Metrics
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// A pipelining client for one Redis node.
///
/// It owns a few connections (one per event loop by default) and spreads commands over
/// them round-robin; any number of concurrent callers share each connection. As a
/// `Service` it closes its connections when the service group shuts down, so an
/// application stops taking requests before Redis goes away.
public final class RedisClient: Sendable {
    public let configuration: RedisClientConfiguration
    private let slots: [RedisConnectionSlot]
    private let nextSlot = Atomic<Int>(0)
    private let metrics: RedisMetrics
    private let logger: Logger

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
            logger: logger
        )
        let loops: [any EventLoop]
        if let count = configuration.connectionsPerNode {
            loops = (0..<count).map { _ in eventLoopGroup.next() }
        } else {
            loops = Array(eventLoopGroup.makeIterator())
        }
        self.slots = loops.map { RedisConnectionSlot(eventLoop: $0, settings: settings) }
    }

    /// Sends one command. An error reply from Redis is thrown as a `.server` error.
    public func send(_ command: RedisCommand) async throws(RedisClientError) -> RESPValue {
        let start = ContinuousClock.now
        let reply: RESPValue
        do {
            let index = nextSlot.wrappingAdd(1, ordering: .relaxed).oldValue
            reply = try await slots[index % slots.count].send(command).get()
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
        try await send(RedisCommand(name, arguments))
    }

    /// Runs a script by its SHA1. If Redis does not know it (a restart, a failover,
    /// `SCRIPT FLUSH`), loads it and tries once more.
    public func evaluate(_ script: RedisScript, keys: [RESPArgument], arguments: [RESPArgument]) async throws(RedisClientError) -> RESPValue {
        let command = RedisCommand("EVALSHA", [.string(script.sha1), .integer(keys.count)] + keys + arguments)
        do {
            return try await send(command)
        } catch where error.serverErrorCode == "NOSCRIPT" {
            try await load(script)
            return try await send(command)
        }
    }

    /// Loads a script so that EVALSHA finds it.
    public func load(_ script: RedisScript) async throws(RedisClientError) {
        let reply = try await send("SCRIPT", "LOAD", .string(script.source))
        guard reply.string == script.sha1 else {
            throw RedisClientError(.protocol, "SCRIPT LOAD returned another SHA1 than the script's")
        }
    }

    /// One round trip; throws when the node does not answer PONG.
    public func ping() async throws(RedisClientError) {
        let reply = try await send("PING")
        guard reply.string == "PONG" else {
            throw RedisClientError(.protocol, "PING was answered with \(reply)")
        }
    }

    /// Closes every connection; commands sent afterwards fail with `.shutdown`.
    public func shutdown() async {
        for slot in slots {
            try? await slot.shutdown().get()
        }
        logger.debug("redis client shut down")
    }
}

extension RedisClient: Service {
    /// Waits for the service group's graceful shutdown, then closes the connections.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }
}

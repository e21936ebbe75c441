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
    let routing: Routing
    private let metrics: RedisMetrics
    /// The loops of this client's connections: a caller on one of them is served by a
    /// connection of its own loop.
    public let eventLoopGroup: any EventLoopGroup
    /// Cluster mode only: masters that failed the last `onEveryNode` round, for alerts.
    private let unavailableMasters: Gauge?
    private let logger: Logger

    enum Routing: Sendable {
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
        self.eventLoopGroup = eventLoopGroup
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
            unavailableMasters = Gauge(label: "redis_cluster_masters_unavailable", factory: metricsFactory)
            routing = .cluster(ClusterRouter(seeds: seeds, logger: logger) { url in
                var nodeSettings = settings
                nodeSettings.logger[metadataKey: "redis.node"] = "\(url.host):\(url.port)"
                return RedisNode(url: url, loops: loops, settings: nodeSettings)
            })
        } else {
            unavailableMasters = nil
            routing = .standalone(RedisNode(url: configuration.url, loops: loops, settings: settings))
        }
    }

    /// True in Redis Cluster mode.
    public var isCluster: Bool {
        if case .cluster = routing { return true }
        return false
    }

    /// Sends one command; in cluster mode to the master of `routingKey`'s slot (any master
    /// without one). An error reply from Redis is thrown as a `.server` error.
    public func send(_ command: RedisCommand, routingKey: RESPArgument? = nil) async throws(RedisClientError) -> RESPValue {
        switch routing {
        case .standalone:
            return try await Self.awaited(send(command, routingKey: routingKey, on: eventLoopGroup.any()))
        case .cluster(let router):
            return try await traced(span(for: command, script: nil)) { () async throws(RedisClientError) in
                try await recorded(command) { try await router.send(command, key: routingKey?.bytes) }
            }
        }
    }

    /// Runs one exchange with metrics: duration by command, errors by kind; an error
    /// reply becomes a thrown `.server` error.
    private func recorded(_ command: RedisCommand, _ exchange: () async throws -> RESPValue) async throws(RedisClientError) -> RESPValue {
        let start = ContinuousClock.now
        let result: Result<RESPValue, any Error>
        do {
            result = .success(try await exchange())
        } catch {
            result = .failure(error)
        }
        return try record(result, of: command, since: start)
    }

    /// The bookkeeping of one finished exchange, async or on a future: the duration by
    /// command, errors by kind; an error reply becomes a thrown `.server` error.
    func record(_ result: Result<RESPValue, any Error>, of command: RedisCommand, since start: ContinuousClock.Instant) throws(RedisClientError) -> RESPValue {
        let reply: RESPValue
        switch result {
        case .success(let value):
            reply = value
        case .failure(let error):
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

    /// A future's value with the client's own error type.
    static func awaited<Value: Sendable>(_ future: EventLoopFuture<Value>) async throws(RedisClientError) -> Value {
        do {
            return try await future.get()
        } catch {
            throw error as? RedisClientError ?? RedisClientError(.connection, "\(error)")
        }
    }

    public func send(_ name: String, _ arguments: RESPArgument...) async throws(RedisClientError) -> RESPValue {
        // The first argument is the key of every single-key command this package sends.
        try await send(RedisCommand(name, arguments), routingKey: arguments.first)
    }

    /// Sends a command to every node (every master in cluster mode): SCRIPT FLUSH, PING.
    /// Throws the first failure; `onEveryNode` says which node failed and goes on with the others.
    public func sendToEveryNode(_ command: RedisCommand) async throws(RedisClientError) -> [RESPValue] {
        try await onEveryNode { node throws(RedisClientError) in try await node.send(command) }.map { outcome throws(RedisClientError) in
            try outcome.result.get()
        }
    }

    /// Runs `body` on every node (every master of the slot map in cluster mode) at once, each
    /// on its own: a master that does not answer costs its own outcome, not the others'.
    /// Throws only when there is no slot map to find the masters in. In cluster mode it sets
    /// the gauge `redis_cluster_masters_unavailable` to the number of failed masters.
    public func onEveryNode<Value: Sendable>(
        _ body: @escaping @Sendable (RedisNodeConnection) async throws(RedisClientError) -> Value
    ) async throws(RedisClientError) -> [RedisNodeOutcome<Value>] {
        let connections: [RedisNodeConnection]
        switch routing {
        case .standalone(let node):
            connections = [RedisNodeConnection(client: self, target: .standalone(node), address: "\(node.url.host):\(node.url.port)", slots: [])]
        case .cluster(let router):
            connections = try await router.masters().masters.map {
                RedisNodeConnection(client: self, target: .master(router, $0.node), address: $0.node.description, slots: $0.slots)
            }
        }
        let outcomes = await withTaskGroup(of: (Int, Result<Value, RedisClientError>).self) { group in
            for (index, connection) in connections.enumerated() {
                group.addTask {
                    do throws(RedisClientError) {
                        return (index, .success(try await body(connection)))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var results: [(Int, Result<Value, RedisClientError>)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map { index, result in
                RedisNodeOutcome(address: connections[index].address, slots: connections[index].slots, result: result)
            }
        }
        unavailableMasters?.record(outcomes.count(where: { if case .failure = $0.result { true } else { false } }))
        return outcomes
    }

    /// Slots that this client's slot map gives no master (always none for a single node).
    /// A hole starts a refresh of the map.
    public func uncoveredSlots() async throws(RedisClientError) -> [ClosedRange<Int>] {
        guard case .cluster(let router) = routing else { return [] }
        return try await router.masters().uncovered
    }

    /// One command to one node, bypassing slot routing; metrics as for `send`.
    func send(_ command: RedisCommand, to target: RedisNodeConnection.Target) async throws(RedisClientError) -> RESPValue {
        try await recorded(command) {
            switch target {
            case .standalone(let node): try await node.send(command)
            case .master(let router, let address): try await router.send(command, to: address)
            }
        }
    }

    /// Runs a script by its SHA1 on the node of its first key. If that node does not know
    /// it (a restart, a failover, `SCRIPT FLUSH`), loads it there and tries once more. In
    /// cluster mode "there" is the node that answered NOSCRIPT, which after an ASK redirect
    /// is not the slot's owner in the map: the router does it, as only it knows that node.
    public func evaluate(_ script: RedisScript, keys: [RESPArgument], arguments: [RESPArgument]) async throws(RedisClientError) -> RESPValue {
        let command = RedisCommand("EVALSHA", [.string(script.sha1), .integer(keys.count)] + keys + arguments)
        if case .cluster(let router) = routing {
            return try await traced(span(for: command, script: script)) { () async throws(RedisClientError) in
                try await recorded(command) { try await router.send(command, key: keys.first?.bytes, script: script) }
            }
        }
        return try await Self.awaited(evaluate(script, keys: keys, arguments: arguments, on: eventLoopGroup.any()))
    }

    /// Runs a script as `evaluate` does, then `WAIT replicas timeout` on the same
    /// connection, back to back: WAIT counts the replicas that acknowledged every write
    /// this connection sent before it, so the script's. Returns the script's reply and how
    /// many replicas acknowledged (at most `replicas`: WAIT stops counting there).
    ///
    /// WAIT blocks the connection it is sent on until then, so the caller should give this
    /// a client of its own, with a command timeout above `timeout`: on the connections
    /// that carry everything else, one slow replica would hold up every command.
    public func evaluate(
        _ script: RedisScript, keys: [RESPArgument], arguments: [RESPArgument], waitingFor replicas: Int, timeout: Duration
    ) async throws(RedisClientError) -> (reply: RESPValue, acknowledged: Int) {
        let command = RedisCommand("EVALSHA", [.string(script.sha1), .integer(keys.count)] + keys + arguments)
        let wait = RedisCommand("WAIT", .integer(replicas), .integer(max(1, Int(timeout / .milliseconds(1)))))
        let key = keys.first?.bytes
        func exchange() async throws(RedisClientError) -> (RESPValue, RESPValue) {
            try await recordedPair(wait) { () async throws -> (RESPValue, RESPValue) in
                switch routing {
                case .standalone(let node):
                    let replies = try await node.send([command, wait])
                    return (replies[0], replies[1])
                case .cluster(let router):
                    let (reply, waited) = try await router.send(command, key: key, script: script, then: wait)
                    return (reply, waited ?? .null)
                }
            }
        }
        // The script and its WAIT are pipelined: both spans cover the pair, a reload after
        // NOSCRIPT included, and each span ends once.
        let spans = [span(for: command, script: script), span(for: wait, script: nil)].compactMap { $0 }
        return try await traced(spans) { () async throws(RedisClientError) in
            var replies = try await exchange()
            // In cluster mode the router has already loaded the script where NOSCRIPT came from.
            if case .standalone = routing, case .error(let message) = replies.0, message.hasPrefix("NOSCRIPT") {
                try await load(script, routingKey: keys.first)
                replies = try await exchange()
            }
            if case .error(let message) = replies.0 {
                metrics.recordError(.server)
                throw RedisClientError(.server, message)
            }
            guard let acknowledged = replies.1.int else {
                metrics.recordError(.protocol)
                throw RedisClientError(.protocol, "WAIT answered \(replies.1)")
            }
            return (replies.0, acknowledged)
        }
    }

    /// `recorded` for a command and the WAIT after it: one duration, under WAIT's name
    /// (the write and its acknowledgement are one step for the caller); an error reply of
    /// WAIT is thrown, the command's is left to the caller.
    private func recordedPair(
        _ wait: RedisCommand, _ exchange: () async throws -> (RESPValue, RESPValue)
    ) async throws(RedisClientError) -> (RESPValue, RESPValue) {
        var pair: (RESPValue, RESPValue) = (.null, .null)
        _ = try await recorded(wait) {
            pair = try await exchange()
            return pair.1
        }
        return pair
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

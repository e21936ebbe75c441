import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// A payment processor for tests and demos: the contract of docs/processor.md over
/// HTTP/1, deduplicating by `Idempotency-Key`, with the faults of its settings.
///
/// ```swift
/// let double = try await ProcessorDouble.start(ProcessorDoubleSettings(declineRate: 1), logger: logger)
/// // POST http://127.0.0.1:\(double.port)/charges …
/// let ledger = double.snapshot()
/// try await double.shutdown()
/// ```
public final class ProcessorDouble: Sendable {
    private let serverChannel: any Channel
    private let book: ChargeBook
    private let connections: ConnectionRegistry
    private let boundPort: Int

    /// The port it listens on (the one chosen when the settings said 0).
    public var port: Int { boundPort }

    private init(serverChannel: any Channel, book: ChargeBook, connections: ConnectionRegistry, port: Int) {
        self.serverChannel = serverChannel
        self.book = book
        self.connections = connections
        self.boundPort = port
    }

    /// Binds `settings.host:settings.port` and serves until `shutdown()`.
    public static func start(
        _ settings: ProcessorDoubleSettings,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) async throws -> ProcessorDouble {
        try settings.validate()
        let book = ChargeBook(settings: settings)
        let connections = ConnectionRegistry()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // IPPROTO_TCP's TCP_NODELAY. `.socketOption(.tcp_nodelay)` would be SOL_SOCKET
            // option 1, SO_DEBUG, which needs CAP_NET_ADMIN: as a pod's user every accepted
            // connection failed (the Redis client had the same trap, RedisConnectionSlot).
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                connections.add(channel)
                return channel.eventLoop.makeCompletedFuture {
                    // Pipelining assistance: one request at a time per connection, so a
                    // delayed answer is never overtaken by the next request's.
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        ProcessorHTTPHandler(book: book, settings: settings, logger: logger)
                    )
                }
            }
            .bind(host: settings.host, port: settings.port)
            .get()
        guard let port = channel.localAddress?.port else {
            try? await channel.close()
            throw ProcessorDoubleSettingsError("the listening socket has no port")
        }
        logger.debug("processor double listening", metadata: ["host": "\(settings.host)", "port": "\(port)"])
        return ProcessorDouble(serverChannel: channel, book: book, connections: connections, port: port)
    }

    /// Everything it did so far; `GET /charges` serves the same as `json`.
    public func snapshot() -> ProcessorLedger {
        book.snapshot
    }

    /// Stops listening and closes every open connection. Calling it again does nothing.
    public func shutdown() async throws {
        do {
            try await serverChannel.close()
        } catch ChannelError.alreadyClosed {
            // Already shut down.
        }
        await connections.closeAll()
    }
}

import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// One connection to one node, bound to one event loop.
///
/// It connects on first use, sends AUTH and SELECT, and hands commands to the channel
/// handler. When a connect fails it backs off with the circuit open: commands fail at
/// once instead of waiting out their deadline, until the back-off has passed and the
/// next command tries again (half-open). All mutable state lives in a loop-bound box.
final class RedisConnectionSlot: Sendable {
    let eventLoop: any EventLoop
    private let settings: Settings
    private let state: NIOLoopBoundBox<State>

    struct Settings: Sendable {
        var url: RedisURL
        var timeout: TimeAmount
        var timeoutDescription: String
        var maxPending: Int
        var backoff: ReconnectBackoff
        var handshake: [RedisCommand]
        /// Set for `rediss://`: every connection starts with a TLS handshake.
        var tls: NIOSSLContext?
        var logger: Logger
    }

    private struct Queued {
        var command: RedisCommand
        var deadline: NIODeadline
        var promise: EventLoopPromise<RESPValue>
    }

    private enum Phase {
        case idle
        case connecting
        case ready(any Channel, RedisChannelHandler)
        case backingOff(until: NIODeadline, lastError: RedisClientError)
        case shutdown
    }

    private struct State {
        var phase: Phase = .idle
        /// Commands waiting for the connection being made.
        var queued = CircularBuffer<Queued>()
        var consecutiveFailures = 0
    }

    init(eventLoop: any EventLoop, settings: Settings) {
        self.eventLoop = eventLoop
        self.settings = settings
        self.state = .makeBoxSendingValue(State(), eventLoop: eventLoop)
    }

    func send(_ command: RedisCommand) -> EventLoopFuture<RESPValue> {
        send([command])[0]
    }

    /// Sends commands back to back on this connection, with nothing in between: what
    /// `ASKING` before a redirected command needs.
    func send(_ commands: [RedisCommand]) -> [EventLoopFuture<RESPValue>] {
        let promises = commands.map { _ in eventLoop.makePromise(of: RESPValue.self) }
        // The deadline counts from the call, so time spent queued counts too.
        let deadline = eventLoop.now + settings.timeout
        if eventLoop.inEventLoop {
            for (command, promise) in zip(commands, promises) { sendOnLoop(command, deadline: deadline, promise: promise) }
        } else {
            eventLoop.execute {
                for (command, promise) in zip(commands, promises) { self.sendOnLoop(command, deadline: deadline, promise: promise) }
            }
        }
        return promises.map(\.futureResult)
    }

    /// Closes the connection and fails everything waiting; later commands fail at once.
    func shutdown() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            let previous = self.state.value.phase
            self.state.value.phase = .shutdown
            self.failQueued(RedisClientError(.shutdown, "the Redis client was shut down"))
            guard case .ready(let channel, _) = previous else {
                return self.eventLoop.makeSucceededVoidFuture()
            }
            return channel.close().recover { _ in }
        }
    }

    private func sendOnLoop(_ command: RedisCommand, deadline: NIODeadline, promise: EventLoopPromise<RESPValue>) {
        switch state.value.phase {
        case .ready(_, let handler) where handler.isClosed:
            // The connection just failed and its close is not reported yet: a command sent
            // to it would fail with the old error. Connect afresh instead.
            enqueue(Queued(command: command, deadline: deadline, promise: promise))
            connect()
        case .ready(_, let handler):
            handler.send(command, deadline: deadline, promise: promise)
        case .connecting:
            enqueue(Queued(command: command, deadline: deadline, promise: promise))
        case .idle:
            enqueue(Queued(command: command, deadline: deadline, promise: promise))
            connect()
        case .backingOff(let until, let lastError):
            if eventLoop.now < until {
                promise.fail(RedisClientError(.connection, "\(settings.url.host):\(settings.url.port) unavailable, circuit open: \(lastError.message)"))
            } else {
                enqueue(Queued(command: command, deadline: deadline, promise: promise))
                connect()
            }
        case .shutdown:
            promise.fail(RedisClientError(.shutdown, "the Redis client was shut down"))
        }
    }

    private func enqueue(_ queued: Queued) {
        guard state.value.queued.count < settings.maxPending else {
            queued.promise.fail(RedisClientError(.overload, "\(settings.maxPending) commands already waiting for a connection"))
            return
        }
        state.value.queued.append(queued)
    }

    private func connect() {
        state.value.phase = .connecting
        let deadline = eventLoop.now + settings.timeout
        let settings = self.settings
        // No socket options of our own: ClientBootstrap already sets TCP_NODELAY at
        // IPPROTO_TCP. `.socketOption(.tcp_nodelay)` meant SOL_SOCKET option 1, SO_DEBUG,
        // which needs CAP_NET_ADMIN: every connect failed in a pod without capabilities.
        ClientBootstrap(group: eventLoop)
            .connectTimeout(settings.timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls = settings.tls {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: tls, serverHostname: settings.url.tlsServerName)
                        )
                    }
                    let handler = RedisChannelHandler(
                        maxPendingCommands: settings.maxPending,
                        timeoutDescription: settings.timeoutDescription
                    )
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(host: settings.url.host, port: settings.url.port)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    self.handshake(on: channel, deadline: deadline)
                case .failure(let error):
                    self.connectFailed(RedisClientError(.connection, "could not connect to \(settings.url.host):\(settings.url.port): \(error)"))
                }
            }
    }

    /// Sends AUTH/SELECT before any queued command; both share the connect deadline.
    private func handshake(on channel: any Channel, deadline: NIODeadline) {
        let handler: RedisChannelHandler
        do {
            handler = try channel.pipeline.syncOperations.handler(type: RedisChannelHandler.self)
        } catch {
            channel.close(promise: nil)
            connectFailed(RedisClientError(.connection, "connection pipeline is missing its handler"))
            return
        }
        let replies = settings.handshake.map { command in
            let promise = eventLoop.makePromise(of: RESPValue.self)
            handler.send(command, deadline: deadline, promise: promise)
            return promise.futureResult.map { reply in (command.name, reply) }
        }
        let boundHandler = NIOLoopBound(handler, eventLoop: eventLoop)
        EventLoopFuture.whenAllSucceed(replies, on: eventLoop).whenComplete { result in
            switch result {
            case .success(let replies):
                if let (name, reply) = replies.first(where: { if case .error = $0.1 { true } else { false } }),
                   case .error(let message) = reply {
                    channel.close(promise: nil)
                    self.connectFailed(RedisClientError(.authentication, "\(name) was refused: \(message)"))
                } else {
                    self.connected(channel, handler: boundHandler.value)
                }
            case .failure(let error):
                channel.close(promise: nil)
                self.connectFailed(error as? RedisClientError ?? RedisClientError(.connection, "\(error)"))
            }
        }
    }

    private func connected(_ channel: any Channel, handler: RedisChannelHandler) {
        guard case .connecting = state.value.phase else {
            // Shut down while connecting.
            channel.close(promise: nil)
            return
        }
        state.value.phase = .ready(channel, handler)
        if state.value.consecutiveFailures > 0 {
            settings.logger.info("redis connection restored", metadata: ["failures": "\(state.value.consecutiveFailures)"])
        } else {
            settings.logger.debug("redis connection opened")
        }
        state.value.consecutiveFailures = 0
        let now = eventLoop.now
        while let queued = state.value.queued.popFirst() {
            // A command whose deadline passed while we connected fails alone; sending it
            // would make the new connection time out and close.
            guard queued.deadline > now else {
                queued.promise.fail(RedisClientError(.timeout, "no connection within \(settings.timeoutDescription)"))
                continue
            }
            handler.send(queued.command, deadline: queued.deadline, promise: queued.promise)
        }
        channel.closeFuture.whenComplete { _ in self.closed(channel) }
    }

    private func closed(_ channel: any Channel) {
        guard case .ready(let current, _) = state.value.phase, current === channel else { return }
        state.value.phase = .idle
        settings.logger.info("redis connection closed")
    }

    private func connectFailed(_ error: RedisClientError) {
        failQueued(error)
        guard case .connecting = state.value.phase else { return }
        state.value.consecutiveFailures += 1
        let failures = state.value.consecutiveFailures
        let delay = settings.backoff.delay(afterFailures: failures, random: Double.random(in: 0...1))
        state.value.phase = .backingOff(until: eventLoop.now + delay, lastError: error)
        // The first failure is news; the rest of an outage is noise at warning level.
        let level: Logger.Level = failures == 1 ? .warning : .debug
        settings.logger.log(level: level, "redis connect failed", metadata: [
            "error": "\(error.message)",
            "failures": "\(failures)",
            "retry_in_ms": "\(delay.nanoseconds / 1_000_000)",
        ])
    }

    private func failQueued(_ error: RedisClientError) {
        while let queued = state.value.queued.popFirst() {
            queued.promise.fail(error)
        }
    }
}

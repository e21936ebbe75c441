import HummingbirdCore
import Logging
import NIOCore

/// How each HTTP connection's handler runs (`HTTP_EXECUTOR`).
public enum HTTPExecutor: String, Sendable {
    /// On the event loop that owns the connection's socket (EventLoopTaskExecutor).
    case eventLoop = "event-loop"
    /// On Swift's global concurrency pool: Hummingbird's default.
    case pool
}

/// Wraps Hummingbird's HTTP/1 child channel so that each connection's task prefers its
/// own event loop's executor: the connection's requests, their middleware and the
/// payment flow (child tasks included, such as the lease watchdog) run on the thread of
/// the socket. Setup and everything else stay Hummingbird's own.
struct EventLoopChildChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    let executors: EventLoopTaskExecutors

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        base.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        guard let executor = executors.executor(for: value.channel.eventLoop) else {
            await base.handle(value: value, logger: logger)
            return
        }
        await withTaskExecutorPreference(executor) {
            await base.handle(value: value, logger: logger)
        }
    }
}

extension HTTPServerBuilder {
    /// Hummingbird's HTTP/1 server with each connection's handler on `executor`.
    static func http1(
        configuration: HTTP1Channel.Configuration,
        executor: HTTPExecutor,
        group: any EventLoopGroup
    ) -> HTTPServerBuilder {
        switch executor {
        case .pool:
            return .http1(configuration: configuration)
        case .eventLoop:
            let executors = EventLoopTaskExecutors(group: group)
            return HTTPServerBuilder { responder in
                EventLoopChildChannel(base: HTTP1Channel(responder: responder, configuration: configuration), executors: executors)
            }
        }
    }
}

import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Hummingbird's HTTP/1 child channel with `FastRouteHandler` in its pipeline: the
/// pipeline `HTTP1Channel.setup` builds, with our handler just before the async channel
/// that feeds the router (it keeps pipelined answers in order itself). Connections are
/// then handled by Hummingbird's own `HTTP1Channel.handle`.
struct PaymentHTTPChannel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let base: HTTP1Channel
    let routes: FastRoutes

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let configuration = base.configuration
            var limits = NIOHTTPDecoderLimitConfiguration()
            limits.maxHeaderFieldSize = configuration.httpDecoder.maxHeaderFieldSize
            limits.maxHeaderListSize = configuration.httpDecoder.maxHeaderListSize
            limits.maxHeaderFieldCount = configuration.httpDecoder.maxHeaderFieldCount
            let pipeline = channel.pipeline.syncOperations
            try pipeline.configureHTTPServerPipeline(
                withPipeliningAssistance: false,  // FastRouteHandler orders the answers
                withErrorHandling: false,  // Hummingbird answers a parse error (400, then close)
                withOutboundHeaderValidation: false,  // HTTPTypes has validated the fields
                withEncoderConfiguration: .init(),
                withDecoderLimitConfiguration: limits
            )
            try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            // Idle timeout and graceful shutdown (close once the answer in flight is
            // written) see every request, ours and the router's.
            try pipeline.addHandler(HTTPConnectionStateHandler(idleTimeout: configuration.idleTimeout.map { .init($0) }, logger: logger))
            try pipeline.addHandler(FastRouteHandler(routes: routes))
            return try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// Hummingbird's HTTP/1 server, with `routes` served on the event loop.
    static func http1(configuration: HTTP1Channel.Configuration, routes: FastRoutes) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            PaymentHTTPChannel(base: HTTP1Channel(responder: responder, configuration: configuration), routes: routes)
        }
    }
}

import HTTPTypes
import Logging
import NIOCore
import NIOHTTPTypes
import PaymentCore
import Tracing

/// Serves `POST /pay`, `GET /healthz` and `GET /readyz` (and HEAD of the probes) on the
/// connection's event loop; every other request goes on, unchanged, to Hummingbird's
/// router behind it.
///
/// Why: through the router a request costs a task, its async sequences and a
/// continuation per Redis reply, which is most of the server's CPU per payment
/// (docs/performance.md). Here the request's parts arrive on the socket's loop, the
/// payment's Redis commands go to a connection of that loop, and the answer is written
/// from the reply's callback: no task, no hop.
///
/// What the router's middleware does for its routes is done here with the same code:
/// the request id (`RequestIDMiddleware.requestID`), the in-flight limit (the same
/// `InflightLimit`), authentication (`AuthMiddleware.tenant`), problem documents
/// (`Problem.answer`), the request timer (the same `RequestTimers`) and the access log
/// (`AccessLogMiddleware.log`).
///
/// One request at a time, in the order they came: the parts of a request that arrives
/// while the one before is still being answered (a pipelining client) are held here
/// until that answer's end is written, whichever handler writes it (this one, or the
/// router, whose writes pass through here). Holding them here rather than in NIO's
/// pipelining handler keeps the socket's read interest as it is: that handler stops and
/// restarts reading around every request, two `epoll_ctl` calls per request.
final class FastRouteHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let routes: FastRoutes
    private var date = HTTPDate()
    /// The request being served, from its head until it is read to its end and its
    /// answer's end is written; nil between requests.
    private var current: Current?
    /// Parts of the requests after `current`, held until it is done.
    private var held = CircularBuffer<HTTPRequestPart>()
    /// The channel asked to read while `held` was full: asked on once it drains, so a
    /// client that pipelines without end is held back by TCP, not by our memory.
    private var readDeferred = false
    private var draining = false
    private static let maximumHeld = 64

    private struct Current {
        var reading: Reading
        /// The router's request, or ours.
        let isRouters: Bool
        /// Its answer's end is written.
        var answered = false

        var isRead: Bool {
            if case .done = reading { return true }
            return false
        }
    }

    private enum Reading {
        /// The router's request: its parts go on.
        case router
        /// One of ours, its body being read (up to the limit, for `/pay`).
        case ours(Exchange, body: ByteBuffer)
        /// Ours, answered before its end (refused): the rest is dropped.
        case refused
        /// Read to its end.
        case done
    }

    /// One request of ours.
    private struct Exchange {
        let route: FastRoutes.Route
        let head: HTTPRequest
        let start: ContinuousClock.Instant
        let requestID: String
        var tenant: Tenant?
        /// Counted in the in-flight limit: leaves it once answered.
        var counted = false
        /// A payment's server span, when tracing is on (probes have none).
        var span: (any Span)?

        /// Runs `body` with the span's context as the current one, so the lines it logs
        /// carry `trace_id` and `span_id` and the ports it calls make child spans.
        func inSpan<Value>(_ body: () -> Value) -> Value {
            guard let span else { return body() }
            return ServiceContext.withValue(span.context, operation: body)
        }

        /// The request's logger, made when a line is to be written: a probe writes none.
        func logger(_ base: Logger) -> Logger {
            var logger = base
            logger[metadataKey: "request_id"] = .string(requestID)
            if let tenant { logger[metadataKey: "tenant"] = .string(tenant.name) }
            return logger
        }
    }

    init(routes: FastRoutes) {
        self.routes = routes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        guard held.isEmpty, current?.isRead != true else {
            held.append(part)
            return
        }
        handle(part, context: context)
    }

    /// A client gone: the requests it pipelined behind the current one are not started
    /// (the current one finishes: a payment under way is not cut short).
    func channelInactive(context: ChannelHandlerContext) {
        held.removeAll()
        context.fireChannelInactive()
    }

    func read(context: ChannelHandlerContext) {
        guard held.count < Self.maximumHeld else {
            readDeferred = true
            return
        }
        context.read()
    }

    /// The router's answer passes here: its end lets the next request in.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        guard case .end = unwrapOutboundIn(data), current?.isRouters == true else { return }
        current?.answered = true
        guard current?.isRead == true else { return }
        // Not from inside the router's write: the next request starts on a turn of its own.
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.execute { handler.value.requestDone(context: boundContext.value) }
    }

    private func handle(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch (current?.reading, part) {
        case (nil, .head(let head)):
            guard let route = FastRoutes.Route(head) else {
                current = Current(reading: .router, isRouters: true)
                context.fireChannelRead(wrapInboundOut(part))
                return
            }
            begin(route, head: head, context: context)
        case (.router?, _):
            if case .end = part {
                current?.reading = .done
                context.fireChannelRead(wrapInboundOut(part))
                if current?.answered == true { requestDone(context: context) }
            } else {
                context.fireChannelRead(wrapInboundOut(part))
            }
        case (.ours(let exchange, var body)?, .body(var chunk)):
            // Only a payment reads its body; a probe's is ignored.
            guard case .pay = exchange.route else { return }
            guard body.readableBytes + chunk.readableBytes <= routes.payments.maxBodyBytes else {
                refuse(exchange, routes.payments.tooLarge, context: context)
                return
            }
            current?.reading = .done  // no copy of `body` is left in `current` while it grows
            body.writeBuffer(&chunk)
            current?.reading = .ours(exchange, body: body)
        case (.ours(let exchange, let body)?, .end):
            current?.reading = .done
            answer(exchange, body: body, context: context)
        case (.refused?, .body):
            break
        case (.refused?, .end):
            current?.reading = .done
            if current?.answered == true { requestDone(context: context) }
        case (nil, .body), (nil, .end), (.ours?, .head), (.refused?, .head), (.done?, _):
            // Out of HTTP's order (the decoder before this handler rules it out): nothing
            // sane can be answered.
            context.close(promise: nil)
        }
    }

    /// The current request is read and answered: the next one, if held, starts.
    private func requestDone(context: ChannelHandlerContext) {
        current = nil
        // Called again from inside the loop below (an answer written at once): the loop
        // goes on with the next part itself.
        guard !draining else { return }
        draining = true
        defer { draining = false }
        var handled = false
        while current?.isRead != true, let part = held.popFirst() {
            handle(part, context: context)
            handled = true
        }
        // Reads reach the router's async channel on read-complete.
        if handled { context.fireChannelReadComplete() }
        if readDeferred, held.count < Self.maximumHeld {
            readDeferred = false
            context.read()
        }
    }

    private func begin(_ route: FastRoutes.Route, head: HTTPRequest, context: ChannelHandlerContext) {
        let requestID = RequestIDMiddleware.requestID(from: head.headerFields[.xRequestID])
        var exchange = Exchange(route: route, head: head, start: .now, requestID: requestID)
        current = Current(reading: .ours(exchange, body: ByteBuffer()), isRouters: false)
        guard case .pay = route else { return }
        exchange.counted = true
        exchange.span = routes.tracing?.serverSpan(method: head.method, route: route.path, headers: head.headerFields)
        if let problem = routes.inflight.enter() {
            refuse(exchange, problem, context: context, countAsInvalid: false)
            return
        }
        if let keyFile = routes.keyFile {
            switch AuthMiddleware.tenant(authorization: head.headerFields[.authorization], file: keyFile) {
            case .success(let tenant):
                exchange.tenant = tenant
            case .failure(let problem):
                refuse(exchange, problem, context: context, countAsInvalid: false)
                return
            }
        }
        if let problem = routes.payments.checkHead(head) {
            refuse(exchange, problem, context: context)
            return
        }
        current?.reading = .ours(exchange, body: ByteBuffer())
    }

    /// Answers `problem` before the request's end, whose rest is then dropped.
    /// `countAsInvalid`: a payment refused for what it is (not for load or credentials).
    private func refuse(_ exchange: Exchange, _ problem: Problem, context: ChannelHandlerContext, countAsInvalid: Bool = true) {
        if countAsInvalid { rejected(exchange, problem) }
        current?.reading = .refused
        write(problem.answer(requestID: exchange.requestID), for: exchange, context: context)
    }

    private func answer(_ exchange: Exchange, body: ByteBuffer, context: ChannelHandlerContext) {
        switch exchange.route {
        case .healthz:
            finish(HealthController.healthz, for: exchange, context: context)
        case .readyz:
            finish(HealthController.readyz(routes.readiness), for: exchange, context: context)
        case .pay:
            switch routes.payments.parse(body: body, head: exchange.head, tenant: exchange.tenant) {
            case .failure(let problem):
                rejected(exchange, problem)
                finish(problem.answer(requestID: exchange.requestID), for: exchange, context: context)
            case .success(let payment):
                let (payments, logger) = (routes.payments, routes.logger)
                payments.service.pay(payment, on: context.eventLoop, span: exchange.span).assumeIsolated().whenSuccess { outcome in
                    exchange.span?.attributes["payment.outcome"] = outcome.label
                    let answer = exchange.inSpan {
                        payments.answer(outcome, of: payment, logger: exchange.logger(logger), requestID: exchange.requestID, since: exchange.start)
                    }
                    self.finish(answer, for: exchange, context: context)
                }
            }
        }
    }

    /// A payment refused for what it is: counted and logged as invalid.
    private func rejected(_ exchange: Exchange, _ problem: Problem) {
        exchange.span?.attributes["payment.outcome"] = "invalid"
        exchange.inSpan { routes.payments.rejected(problem, logger: exchange.logger(routes.logger)) }
    }

    /// Writes the answer to a whole request; the next one may come.
    private func finish(_ answer: HTTPAnswer, for exchange: Exchange, context: ChannelHandlerContext) {
        write(answer, for: exchange, context: context)
        requestDone(context: context)
    }

    private func write(_ answer: HTTPAnswer, for exchange: Exchange, context: ChannelHandlerContext) {
        var headers = answer.headers
        headers[.xRequestID] = exchange.requestID
        headers[.contentLength] = String(answer.body.readableBytes)
        headers[.date] = date.now()
        context.write(wrapOutboundOut(.head(HTTPResponse(status: answer.status, headerFields: headers))), promise: nil)
        if exchange.head.method != .head, answer.body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(answer.body)), promise: nil)
        }
        if exchange.head.headerFields[.connection]?.lowercased() == "close" {
            let written = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
        current?.answered = true
        if exchange.counted { routes.inflight.leave() }
        routes.timers.record(method: exchange.head.method.rawValue, route: exchange.route.path, status: answer.status.code, since: exchange.start)
        if routes.logger.logLevel <= AccessLogMiddleware.level(for: answer.status.code) {
            exchange.inSpan {
                AccessLogMiddleware.log(
                    exchange.logger(routes.logger), method: exchange.head.method, path: exchange.route.path, status: answer.status.code, since: exchange.start
                )
            }
        }
        if let span = exchange.span { RequestTracing.end(span, status: answer.status.code) }
    }
}

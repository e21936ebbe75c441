import Logging
import NIOCore
import NIOHTTP1

/// One connection's requests: `POST /charges`, `GET /charges`, `GET /healthz`.
///
/// It lives on its channel's event loop; latency and slow answers are tasks scheduled on
/// that loop, so waiting never blocks it. The pipelining handler before it delivers the
/// next request of a connection only after this one's answer, and a scheduled task that
/// finds its connection closed still completes the charge: a caller that gave up does
/// not undo a charge already under way, as with a real processor.
final class ProcessorHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let book: ChargeBook
    private let settings: ProcessorDoubleSettings
    private let token: BearerToken?
    private let logger: Logger

    private var head: HTTPRequestHead?
    private var body: ByteBuffer
    private var bodyTooLarge = false
    private var isActive = true

    init(book: ChargeBook, settings: ProcessorDoubleSettings, logger: Logger) {
        self.book = book
        self.settings = settings
        self.token = settings.token.map(BearerToken.init)
        self.logger = logger
        self.body = ByteBuffer()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
            // A declared length over the limit is refused without keeping any of it.
            let declared = head.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
            bodyTooLarge = declared > ChargeRequest.maximumBodyBytes
        case .body(var part):
            guard !bodyTooLarge else { return }
            if body.readableBytes + part.readableBytes > ChargeRequest.maximumBodyBytes {
                bodyTooLarge = true
                body.clear()
            } else {
                body.writeBuffer(&part)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            route(context: context, head: head, body: body.readableBytesView.map { $0 })
            body.clear()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        isActive = false
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        isActive = false
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("processor double connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    private func route(context: ChannelHandlerContext, head: HTTPRequestHead, body: [UInt8]) {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        switch (head.method, path) {
        case (.GET, "/healthz"):
            respond(context: context, head: head, .healthy)
        case (.GET, "/charges"):
            respond(context: context, head: head, ProcessorAnswer(status: 200, body: book.snapshot.json))
        case (.POST, "/charges"):
            charge(context: context, head: head, body: body)
        case (_, "/charges"), (_, "/healthz"):
            respond(context: context, head: head, .methodNotAllowed)
        default:
            respond(context: context, head: head, .notFound)
        }
    }

    private func charge(context: ChannelHandlerContext, head: HTTPRequestHead, body: [UInt8]) {
        if let token, !token.accepts(head.headers["authorization"]) {
            book.reject(unauthorized: true)
            return respond(context: context, head: head, .unauthorized)
        }
        guard !bodyTooLarge else {
            book.reject(unauthorized: false)
            return respond(context: context, head: head, .tooLarge)
        }
        let key: String
        let request: ChargeRequest
        do {
            key = try ChargeRequest.idempotencyKey(head.headers["idempotency-key"])
            try ChargeRequest.checkContentType(head.headers["content-type"])
            request = try ChargeRequest(body: body)
        } catch {
            book.reject(unauthorized: false)
            return respond(context: context, head: head, .invalid(error.message))
        }
        switch book.admit(key: key, request: request) {
        case .replay(let chargeID): respond(context: context, head: head, .charge(chargeID, created: false))
        case .declinedAgain: respond(context: context, head: head, .declined)
        case .inProgress: respond(context: context, head: head, .inProgress)
        case .reused: respond(context: context, head: head, .reused)
        case .begin(let work):
            after(settings.latency, context: context) { [self] in
                finish(context: context, head: head, work: work)
            }
        }
    }

    /// The latency has passed: record the outcome, then answer it (or not).
    private func finish(context: ChannelHandlerContext, head: HTTPRequestHead, work: ChargeBook.Work) {
        let completion = book.complete(work)
        logger.debug("processor double finished a key", metadata: ["key": "\(work.key)", "outcome": "\(completion)"])
        switch completion {
        case .failedBefore: respond(context: context, head: head, .failedBefore)
        case .declined: respond(context: context, head: head, .declined)
        case .charged(let chargeID, .answer): respond(context: context, head: head, .charge(chargeID, created: true))
        case .charged(_, .status500): respond(context: context, head: head, .failedAfter)
        case .charged(_, .drop):
            // Charged, and the caller never hears of it.
            if isActive { context.close(promise: nil) }
        case .charged(let chargeID, .slow):
            after(settings.slow, context: context) { [self] in
                respond(context: context, head: head, .charge(chargeID, created: true))
            }
        }
    }

    /// Runs `body` on this loop after `delay`, at once when there is none.
    private func after(_ delay: Duration, context: ChannelHandlerContext, _ body: @escaping () -> Void) {
        guard delay > .zero else { return body() }
        context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) { body() }
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead, _ answer: ProcessorAnswer) {
        guard isActive else { return }
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: answer.contentType)
        headers.add(name: "content-length", value: String(answer.body.count))
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "connection", value: "close") }
        if answer.status == 405 { headers.add(name: "allow", value: head.uri.hasPrefix("/charges") ? "GET, POST" : "GET") }
        let status = HTTPResponseStatus(statusCode: answer.status)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: answer.body)))), promise: nil)
        guard !keepAlive else {
            return context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}

// Lives on its channel's event loop only.
@available(*, unavailable)
extension ProcessorHTTPHandler: Sendable {}

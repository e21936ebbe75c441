import Logging
import NIOCore
import NIOHTTP1

/// One connection's requests: `POST /charges`, `GET /charges`, `GET /charges/{key}`,
/// `GET /healthz`.
///
/// It lives on its channel's event loop; latency, slow answers and stalled bodies are
/// tasks scheduled on that loop, so waiting never blocks it. The pipelining handler before it delivers the
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
    /// The body of a stalled answer, due after `settings.stall`; cancelled when the
    /// connection closes, so a closed connection holds no timer for the rest of the stall.
    private var stalledBody: Scheduled<Void>?

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
        stalledBody?.cancel()
        stalledBody = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        isActive = false
        stalledBody?.cancel()
        stalledBody = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("processor double connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    private static let lookupPrefix = "/charges/"

    private static func path(of head: HTTPRequestHead) -> String {
        head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
    }

    private func route(context: ChannelHandlerContext, head: HTTPRequestHead, body: [UInt8]) {
        let path = Self.path(of: head)
        switch (head.method, path) {
        case (.GET, "/healthz"):
            respond(context: context, head: head, .healthy)
        case (.GET, "/charges"):
            respond(context: context, head: head, ProcessorAnswer(status: 200, body: book.snapshot.json))
        case (.POST, "/charges"):
            charge(context: context, head: head, body: body)
        case (.GET, _) where path.hasPrefix(Self.lookupPrefix):
            lookup(context: context, head: head, keyInPath: path.dropFirst(Self.lookupPrefix.count))
        case (_, "/charges"), (_, "/healthz"):
            respond(context: context, head: head, .methodNotAllowed)
        case (_, _) where path.hasPrefix(Self.lookupPrefix):
            respond(context: context, head: head, .methodNotAllowed)
        default:
            respond(context: context, head: head, .notFound)
        }
    }

    /// `GET /charges/{key}`: the token rule of `POST /charges`, then the key, then what
    /// the book knows. Never charges.
    private func lookup(context: ChannelHandlerContext, head: HTTPRequestHead, keyInPath: Substring) {
        if let token, !token.accepts(head.headers["authorization"]) {
            book.rejectLookup()
            return respond(context: context, head: head, .unauthorized)
        }
        let key: String
        do {
            key = try ChargeRequest.lookupKey(pathSegment: keyInPath)
        } catch {
            book.rejectLookup()
            return respond(context: context, head: head, .invalid(error.message))
        }
        switch book.lookup(key: key) {
        case .charged(let chargeID, let amountMinor, let currency, let reference):
            respond(context: context, head: head, .lookup(chargeID: chargeID, amountMinor: amountMinor, currency: currency, reference: reference))
        case .inProgress: respond(context: context, head: head, .inProgress)
        case .nothingCharged: respond(context: context, head: head, .nothingCharged)
        case .unavailable: respond(context: context, head: head, .failedBefore)
        }
    }

    private func charge(context: ChannelHandlerContext, head: HTTPRequestHead, body: [UInt8]) {
        // Before anything else, whatever the request: a rate limit or a token rotation
        // meets a retry whether or not its key was charged.
        switch book.drawTransientRefusal() {
        case .rateLimited?: return respond(context: context, head: head, .rateLimited)
        case .unauthorized?: return respond(context: context, head: head, .unauthorized)
        case nil: break
        }
        if let token, !token.accepts(head.headers["authorization"]) {
            book.reject(unauthorized: true)
            return respond(context: context, head: head, .unauthorized)
        }
        guard !bodyTooLarge else {
            book.reject(unauthorized: false)
            return respond(context: context, head: head, .tooLarge)
        }
        let key: String
        var request: ChargeRequest
        do {
            (key, request) = try ChargeRequest.parse(
                idempotencyKeyHeaders: head.headers["idempotency-key"], contentTypeHeaders: head.headers["content-type"], body: body
            )
            request.traceparent = head.headers.first(name: "traceparent")
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
        case .absurdRetryAfter: respond(context: context, head: head, .absurdInProgress)
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
        case .charged(let chargeID, .stall):
            respond(context: context, head: head, .charge(chargeID, created: true), holdingBodyFor: settings.stall)
        }
    }

    /// Runs `body` on this loop after `delay`, at once when there is none.
    private func after(_ delay: Duration, context: ChannelHandlerContext, _ body: @escaping () -> Void) {
        guard delay > .zero else { return body() }
        context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) { body() }
    }

    /// Sends `answer`; with `hold`, sends its head (`Content-Length` of the whole body
    /// included) at once and its body only after `hold`, or never if the connection
    /// closes first.
    private func respond(
        context: ChannelHandlerContext, head: HTTPRequestHead, _ answer: ProcessorAnswer, holdingBodyFor hold: Duration? = nil
    ) {
        guard isActive else { return }
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: answer.contentType)
        headers.add(name: "content-length", value: String(answer.body.count))
        if let retryAfter = answer.retryAfter { headers.add(name: "retry-after", value: retryAfter) }
        if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
        if answer.status == 405 { headers.add(name: "allow", value: Self.path(of: head) == "/charges" ? "GET, POST" : "GET") }
        let status = HTTPResponseStatus(statusCode: answer.status)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        guard let hold else { return sendBody(context: context, head: head, answer) }
        context.flush()
        stalledBody = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(hold)) { [self] in
            stalledBody = nil
            guard isActive else { return }
            sendBody(context: context, head: head, answer)
        }
    }

    /// The body and the end of an answer whose head was written; closes the connection
    /// after it when the request asked for that.
    private func sendBody(context: ChannelHandlerContext, head: HTTPRequestHead, _ answer: ProcessorAnswer) {
        let keepAlive = head.isKeepAlive
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

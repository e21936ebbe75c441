import NIOCore

/// The channel handler of one pipelined Redis connection.
///
/// Confined to its channel's event loop and deliberately not Sendable. Callers hand it
/// commands on the loop with `send`; it appends their bytes to one outbound buffer and
/// flushes once per event-loop turn, so concurrent callers share syscalls. The pipelining
/// rules live in `RedisConnectionStateMachine`.
final class RedisChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    typealias Promise = EventLoopPromise<RESPValue>

    private var stateMachine: RedisConnectionStateMachine<Promise>
    private let reader = HiredisReplyReader()
    private var context: ChannelHandlerContext?
    private var outbound = ByteBuffer()
    private var flushScheduled = false
    private var timer: Scheduled<Void>?

    init(maxPendingCommands: Int, timeoutDescription: String) {
        self.stateMachine = RedisConnectionStateMachine(
            maxPending: maxPendingCommands,
            timeoutDescription: timeoutDescription
        )
    }

    /// True once the connection failed (timeout, parse error, close): it takes no more
    /// commands, even before its channel's close has been reported.
    var isClosed: Bool { stateMachine.isClosed }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.outbound = context.channel.allocator.buffer(capacity: 4096)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        closeQueue(RedisClientError(.connection, "connection handler removed"))
        self.context = nil
    }

    /// Queues a command for the next flush. Must be called on the channel's event loop.
    func send(_ command: RedisCommand, deadline: NIODeadline, promise: Promise) {
        guard let context else {
            promise.fail(RedisClientError(.connection, "connection is not open"))
            return
        }
        context.eventLoop.preconditionInEventLoop()
        switch stateMachine.send(promise, deadline: deadline) {
        case .fail(let error):
            promise.fail(error)
        case .write(let armTimerAt):
            outbound.writeImmutableBuffer(command.encoded)
            if let armTimerAt {
                armTimer(at: armTimerAt, context: context)
            }
            if !flushScheduled {
                flushScheduled = true
                // Runs after every task already queued on the loop, so all commands
                // submitted in this turn go out in one write.
                let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
                context.eventLoop.execute { handler.value.flushOutbound() }
            }
        }
    }

    private func flushOutbound() {
        flushScheduled = false
        guard let context, outbound.readableBytes > 0 else { return }
        context.writeAndFlush(wrapOutboundOut(outbound), promise: nil)
        outbound.clear()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            try reader.feed(unwrapInboundIn(data))
            while let reply = try reader.next() {
                switch stateMachine.receive() {
                case .complete(let promise):
                    promise.succeed(reply)
                case .close(let waiters, let error):
                    fail(waiters, with: error, closing: context)
                    return
                case .ignore:
                    return
                }
            }
        } catch {
            // hiredis cannot resynchronise after a parse error: the stream is lost.
            fail(stateMachine.close(error), with: error, closing: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closeQueue(RedisClientError(.connection, "connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let error = RedisClientError(.connection, "\(error)")
        fail(stateMachine.close(error), with: error, closing: context)
    }

    private func armTimer(at deadline: NIODeadline, context: ChannelHandlerContext) {
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: deadline) {
            handler.value.timerFired()
        }
    }

    private func timerFired() {
        guard let context else { return }
        switch stateMachine.timerFired(now: context.eventLoop.now) {
        case .none:
            timer = nil
        case .arm(let deadline):
            armTimer(at: deadline, context: context)
        case .close(let waiters, let error):
            // The late replies could no longer be matched to their commands.
            fail(waiters, with: error, closing: context)
        }
    }

    /// Closes the queue when the channel is already going away: fails what is pending.
    private func closeQueue(_ error: RedisClientError) {
        failPending(stateMachine.close(error), with: error)
    }

    /// Fails `waiters` and closes the channel.
    private func fail(_ waiters: [Promise], with error: RedisClientError, closing context: ChannelHandlerContext) {
        failPending(waiters, with: error)
        context.close(promise: nil)
    }

    /// Nothing is pending any more: stop the deadline timer and fail the waiters.
    private func failPending(_ waiters: [Promise], with error: RedisClientError) {
        timer?.cancel()
        timer = nil
        for waiter in waiters { waiter.fail(error) }
    }
}

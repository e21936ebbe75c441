import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import RedisClient

/// The handler driven through an `EmbeddedChannel`: bytes in, bytes out, virtual time.
@Suite("channel handler")
struct RedisChannelHandlerTests {
    let channel = EmbeddedChannel()
    let handler: RedisChannelHandler

    init() throws {
        handler = RedisChannelHandler(maxPendingCommands: 3, timeoutDescription: "500 ms")
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6379)).wait()
    }

    private var loop: EmbeddedEventLoop { channel.embeddedEventLoop }

    private func send(_ command: RedisCommand, timeout: TimeAmount = .milliseconds(500)) -> Outcome {
        let promise = loop.makePromise(of: RESPValue.self)
        handler.send(command, deadline: loop.now + timeout, promise: promise)
        return Outcome(promise.futureResult)
    }

    @Test func commandsOfOneTurnGoOutInOneWriteAndRepliesMatchInOrder() throws {
        let first = send(RedisCommand("GET", "a"))
        let second = send(RedisCommand("INCR", "b"))
        let third = send(RedisCommand("PING"))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil, "nothing is written before the flush task runs")

        loop.run()
        let written = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(String(buffer: written) == "*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$4\r\nINCR\r\n$1\r\nb\r\n*1\r\n$4\r\nPING\r\n")
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil, "one flush, one buffer")

        // Replies arrive split at awkward places.
        try channel.writeInbound(ByteBuffer(string: "$1\r\nx\r"))
        #expect(first.value == nil)
        try channel.writeInbound(ByteBuffer(string: "\n:7\r\n-ERR no\r\n"))
        #expect(first.value == .bulkString(ByteBuffer(string: "x")))
        #expect(second.value == .integer(7))
        #expect(third.value == .error("ERR no"), "an error reply is a value for its own command only")
        #expect(channel.isActive)
    }

    @Test func deadlineFailsEveryPendingCommandAndClosesTheConnection() throws {
        let first = send(RedisCommand("GET", "a"))
        loop.advanceTime(by: .milliseconds(100))
        let second = send(RedisCommand("GET", "b"))
        loop.advanceTime(by: .milliseconds(399))
        #expect(first.isPending)

        loop.advanceTime(by: .milliseconds(1))
        #expect(first.error?.kind == .timeout)
        #expect(first.error?.message == "no reply within 500 ms")
        #expect(second.error?.kind == .timeout)
        #expect(!channel.isActive, "replies that arrive later could not be matched")
    }

    @Test func answeredCommandsDoNotTimeOut() throws {
        let first = send(RedisCommand("PING"))
        loop.run()
        try channel.writeInbound(ByteBuffer(string: "+PONG\r\n"))
        loop.advanceTime(by: .milliseconds(300))
        let second = send(RedisCommand("PING"))
        loop.advanceTime(by: .milliseconds(300))
        #expect(first.value == .simpleString("PONG"))
        #expect(second.isPending, "the second command's deadline is 200 ms away")
        loop.advanceTime(by: .milliseconds(200))
        #expect(second.error?.kind == .timeout)
    }

    @Test func callerBeyondTheInFlightBoundGetsAnOverloadError() throws {
        let accepted = (0..<3).map { _ in send(RedisCommand("PING")) }
        let refused = send(RedisCommand("PING"))
        #expect(refused.error?.kind == .overload)
        #expect(accepted.allSatisfy { $0.isPending })
        loop.run()
        let written = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(String(buffer: written).ranges(of: "PING").count == 3, "the refused command was not sent")
        #expect(channel.isActive)
    }

    @Test func parseErrorFailsPendingCommandsAndClosesTheConnection() throws {
        let first = send(RedisCommand("GET", "a"))
        let second = send(RedisCommand("GET", "b"))
        try channel.writeInbound(ByteBuffer(string: "+OK\r\n!garbage\r\n"))
        #expect(first.value == .simpleString("OK"))
        #expect(second.error?.kind == .protocol)
        #expect(!channel.isActive)
    }

    @Test func replyNobodyAskedForIsAProtocolError() throws {
        try channel.writeInbound(ByteBuffer(string: "+OK\r\n"))
        #expect(!channel.isActive)
        #expect(send(RedisCommand("PING")).error?.kind == .protocol)
    }

    @Test func serverClosingTheConnectionFailsPendingCommands() throws {
        let pending = send(RedisCommand("GET", "a"))
        channel.pipeline.fireChannelInactive()
        #expect(pending.error?.kind == .connection)
    }
}

/// Captures a future's result as it completes, for synchronous checks on an embedded loop.
final class Outcome: Sendable {
    private let result = Mutex<Result<RESPValue, any Error>?>(nil)

    init(_ future: EventLoopFuture<RESPValue>) {
        future.whenComplete { outcome in self.result.withLock { $0 = outcome } }
    }

    var isPending: Bool { result.withLock { $0 == nil } }

    var value: RESPValue? {
        result.withLock { try? $0?.get() }
    }

    var error: RedisClientError? {
        result.withLock { result in
            guard case .failure(let error) = result else { return nil }
            return error as? RedisClientError
        }
    }
}

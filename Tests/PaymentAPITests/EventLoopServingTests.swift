import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOPosix
@testable import PaymentAPI
import PaymentRedis
import RedisClient
import RedisTestSupport
import Synchronization
import Testing

/// `POST /pay` and the probes are served on the socket's event loop: a Redis command
/// sent from a loop uses that loop's own connection and answers there, and answers from
/// the event-loop handler and from the router keep the order of pipelined requests.
@Suite("served on the event loop", .redisServer())
struct EventLoopServingTests {
    let group = MultiThreadedEventLoopGroup.singleton

    @Test func aCommandSentOnALoopUsesThatLoopsConnectionAndAnswersThere() async throws {
        let loops = Array(group.makeIterator())
        try #require(loops.count >= 2, "the test needs two event loops")
        var configuration = try RedisClientConfiguration(url: try RedisServer.required().url)
        configuration.commandTimeout = .seconds(5)
        try await withClient(try RedisClient(configuration: configuration, eventLoopGroup: group, logger: Logger(label: "affinity"))) { client in
            var idsByLoop: [[Int64]] = []
            for loop in loops {
                var ids: [Int64] = []
                for _ in 0..<8 {
                    let (reply, answeredOnLoop) = try await loop.flatSubmit {
                        client.send(RedisCommand("CLIENT", "ID"), on: loop).map { ($0, loop.inEventLoop) }
                    }.get()
                    #expect(answeredOnLoop, "the future completes on the caller's loop")
                    ids.append(try #require(reply.int.map(Int64.init)))
                }
                idsByLoop.append(ids)
            }
            let perLoop = idsByLoop.map(Set.init)
            #expect(perLoop.allSatisfy { $0.count == 1 }, "each loop keeps to one connection: \(idsByLoop)")
            #expect(Set(perLoop.flatMap { $0 }).count == loops.count, "each loop its own connection: \(idsByLoop)")
            // From the concurrency pool, commands still go round-robin over every connection.
            var fromPool = Set<Int64>()
            for _ in 0..<(2 * loops.count) {
                fromPool.insert(try #require(try await client.send("CLIENT", "ID").int.map(Int64.init)))
            }
            #expect(fromPool == Set(perLoop.flatMap { $0 }))
        }
    }

    /// A script the server forgot (a restart, `SCRIPT FLUSH`) is loaded and run again, and
    /// the caller's decoder reads the reply, on the caller's loop.
    @Test func aScriptTheServerForgotIsLoadedAndRunOnTheLoop() async throws {
        let loop = group.next()
        let script = RedisScript("return ARGV[1] .. '-' .. KEYS[1]")
        // Its own server: a FLUSH on the suite's would land between another test's reload
        // of a script and its second try, now and then, and fail that test.
        let server = try await RedisServer.start()
        defer { server.stop() }
        let configuration = try RedisClientConfiguration(url: server.url)
        try await withClient(try RedisClient(configuration: configuration, eventLoopGroup: group, logger: Logger(label: "noscript"))) { client in
            _ = try await client.send(RedisCommand("SCRIPT", "FLUSH"))
            let decoded = try await loop.flatSubmit {
                client.evaluate(script, keys: [.string("k")], arguments: [.string("v")], on: loop) { reply in
                    (reply.string ?? "not a string", loop.inEventLoop)
                }
            }.get()
            #expect(decoded.0 == "v-k")
            #expect(decoded.1, "decoded on the caller's loop")
            // A decoder that refuses the reply fails the future with its error.
            struct Refused: Error {}
            await #expect(throws: Refused.self) {
                try await loop.flatSubmit {
                    client.evaluate(script, keys: [.string("k")], arguments: [.string("v")], on: loop) { _ -> Int in throw Refused() }
                }.get()
            }
        }
    }

    @Test func aPaymentAndItsReplayOverARealSocket() async throws {
        let user = uniqueUser("socket")
        try await withApp { client in
            let first = try await client.pay(payBody(user: user))
            #expect(first.status == .ok, "\(first.text)")
            #expect(first.headers[.xRequestID]?.count == 32)
            #expect(first.headers[.date]?.hasSuffix(" GMT") == true)
            let second = try await client.pay(payBody(user: user), headers: [.contentType: "application/json", .xRequestID: "mine-1"])
            #expect(second.status == .ok)
            #expect(second.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(second.headers[.xRequestID] == "mine-1")
            #expect(second.text == first.text)
        }
    }

    @Test func theDateHeaderIsAnIMFFixdate() {
        #expect(HTTPDate.format(epochSeconds: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(epochSeconds: 1_796_597_862) == "Sun, 06 Dec 2026 22:57:42 GMT")
    }

    /// Six requests in one write, alternating between the two paths; the last asks to
    /// close. Each answer must come in the order asked, whichever handler wrote it.
    @Test func pipelinedRequestsAreAnsweredInOrderAcrossBothPaths() async throws {
        let user = uniqueUser("pipelined")
        let body = #"{"user_id":"\#(user)","amount":1.5,"currency":"EUR","idempotency_key":"p-1"}"#
        let requests = [
            "GET /ledger/\(user) HTTP/1.1\r\nHost: t\r\n\r\n",
            "POST /pay HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)",
            "GET /ledger/\(user) HTTP/1.1\r\nHost: t\r\n\r\n",
            "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
            // Refused at its head, with a body still to come.
            "POST /pay HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)",
            "GET /nowhere HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        ]
        try await withApp { client in
            let port = try #require(client.port)
            let answer = try await RawHTTP.exchange(port: port, bytes: requests.joined())
            // A body is followed by the next status line with no line break in between.
            let statusLines = answer.components(separatedBy: "HTTP/1.1 ").dropFirst().map { "HTTP/1.1 " + $0.prefix(3) }
            #expect(statusLines == ["HTTP/1.1 200", "HTTP/1.1 200", "HTTP/1.1 200", "HTTP/1.1 200", "HTTP/1.1 415", "HTTP/1.1 404"], "\(answer)")
            // The ledger read after the payment sees it; the one before does not.
            let ledgers = answer.components(separatedBy: #""payments":"#).dropFirst().map { $0.prefix(1) }
            #expect(ledgers == ["0", "1"], "\(answer)")
        }
    }

    /// More pipelined requests than the handler holds before it stops reading: all are
    /// answered, in order, and the connection goes on.
    @Test func aLongPipelineIsAnsweredWhole() async throws {
        let probes = (0..<200).map { index in
            index % 2 == 0 ? "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n" : "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n"
        }
        try await withApp { client in
            let port = try #require(client.port)
            let answer = try await RawHTTP.exchange(port: port, bytes: probes.joined() + "GET /nowhere HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            let statuses: [String] = answer.components(separatedBy: "HTTP/1.1 ").dropFirst().map { String($0.prefix(3)) }
            let expected: [String] = Array(repeating: "200", count: 200) + ["404"]
            #expect(statuses == expected)
            let isProbe: [Bool] = answer.components(separatedBy: "\r\n\r\n").dropFirst().prefix(200).map { $0.hasPrefix(#"{"status":"ok"}"#) }
            let alternating: [Bool] = (0..<200).map { $0 % 2 == 0 }
            #expect(isProbe == alternating, "probe and metrics answers alternate")
        }
    }
}

/// Writes bytes to the server and reads until it closes the connection.
enum RawHTTP {
    static func exchange(port: Int, bytes: String) async throws -> String {
        let collected = Received()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(into: collected)) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(ByteBuffer(string: bytes)).get()
        try await channel.closeFuture.get()
        return collected.bytes.withLock { String(buffer: $0) }
    }

    private final class Received: Sendable {
        let bytes = Mutex(ByteBuffer())
    }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let collected: Received

        init(into collected: Received) { self.collected = collected }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            collected.bytes.withLock { $0.writeBuffer(&buffer) }
        }
    }
}

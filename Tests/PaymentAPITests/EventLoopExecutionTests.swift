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
import Testing

/// HTTP_EXECUTOR=event-loop: a connection's handler runs on its socket's event loop, and
/// a Redis command sent from there uses that loop's own connection (no thread hop).
@Suite("handlers on their event loop", .redisServer())
struct EventLoopExecutionTests {
    let group = MultiThreadedEventLoopGroup.singleton

    @Test func aTaskPreferringALoopRunsOnItAlsoAfterItSuspends() async throws {
        let executors = EventLoopTaskExecutors(group: group)
        for loop in group.makeIterator() {
            let executor = try #require(executors.executor(for: loop))
            let onLoop = await withTaskExecutorPreference(executor) { () async -> [Bool] in
                var seen = [loop.inEventLoop]
                try? await Task.sleep(for: .milliseconds(5))
                seen.append(loop.inEventLoop)
                // A child task inherits the preference (the lease watchdog is one).
                async let child = loop.inEventLoop
                seen.append(await child)
                return seen
            }
            #expect(onLoop == [true, true, true])
        }
        // A loop of another group has no executor here: its callers stay on the pool.
        let other = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        #expect(executors.executor(for: other.next()) == nil)
        try await other.shutdownGracefully()
    }

    /// Which server connection served each command, by CLIENT ID.
    private func clientIDs(_ client: RedisClient, count: Int) async throws -> [Int64] {
        var ids: [Int64] = []
        for _ in 0..<count {
            guard case .integer(let id) = try await client.send("CLIENT", "ID") else {
                Issue.record("CLIENT ID did not answer an integer")
                return ids
            }
            ids.append(id)
        }
        return ids
    }

    @Test func aCommandFromAnEventLoopUsesThatLoopsConnection() async throws {
        let loops = Array(group.makeIterator())
        try #require(loops.count >= 2, "the test needs two event loops")
        var configuration = try RedisClientConfiguration(url: try RedisServer.required().url)
        configuration.commandTimeout = .seconds(5)
        let executors = EventLoopTaskExecutors(group: group)
        try await withClient(try RedisClient(configuration: configuration, eventLoopGroup: group, logger: Logger(label: "affinity"))) { client in
            var idsByLoop: [[Int64]] = []
            for loop in loops {
                let executor = try #require(executors.executor(for: loop))
                idsByLoop.append(try await withTaskExecutorPreference(executor) { try await clientIDs(client, count: 8) })
            }
            let perLoop = idsByLoop.map(Set.init)
            #expect(perLoop.allSatisfy { $0.count == 1 }, "each loop keeps to one connection: \(idsByLoop)")
            #expect(Set(perLoop.flatMap { $0 }).count == loops.count, "each loop its own connection: \(idsByLoop)")
            // From the concurrency pool, commands still go round-robin over every connection.
            let fromPool = Set(try await clientIDs(client, count: 2 * loops.count))
            #expect(fromPool == Set(perLoop.flatMap { $0 }))
        }
    }

    @Test(arguments: [HTTPExecutor.eventLoop, .pool])
    func aPaymentAndItsReplayOverARealSocket(executor: HTTPExecutor) async throws {
        let url = try RedisServer.required().url
        var configuration = AppConfiguration(redis: PaymentRedisConfiguration(store: try RedisClientConfiguration(url: url)))
        configuration.paymentFailureRate = 0
        configuration.userRateLimit = nil
        configuration.httpExecutor = executor
        configuration.httpHost = "127.0.0.1"
        configuration.httpPort = 0
        var logger = Logger(label: "executor-test")
        logger.logLevel = .critical
        let app = try buildApplication(configuration: configuration, readiness: Readiness(), logger: logger)
        let user = uniqueUser("executor-\(executor.rawValue)")
        try await app.test(.live) { client in
            let first = try await client.pay(payBody(user: user))
            #expect(first.status == .ok, "\(first.text)")
            let second = try await client.pay(payBody(user: user))
            #expect(second.status == .ok)
            #expect(second.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(second.text == first.text)
        }
    }
}

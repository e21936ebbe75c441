import Logging
import NIOCore
import RedisClient
import RedisTestSupport
import ServiceLifecycle
import Testing

@Suite("client against a real redis-server", .redisServer())
struct RedisClientIntegrationTests {
    @Test func setGetDelIncr() async throws {
        try await withClient(try makeClient(try RedisServer.required())) { client async throws in
            #expect(try await client.send("SET", "it:greeting", "hello") == .simpleString("OK"))
            #expect(try await client.send("GET", "it:greeting").string == "hello")
            #expect(try await client.send("DEL", "it:greeting") == .integer(1))
            #expect(try await client.send("GET", "it:greeting") == .null)
            #expect(try await client.send("INCR", "it:counter") == .integer(1))
            #expect(try await client.send("INCR", "it:counter") == .integer(2))
        }
    }

    @Test func binaryValuesRoundTrip() async throws {
        let bytes = ByteBuffer(bytes: (0...255).map(UInt8.init) + Array(repeating: 0x0D, count: 100_000))
        try await withClient(try makeClient(try RedisServer.required())) { client async throws in
            _ = try await client.send("SET", "it:binary", .bytes(bytes))
            #expect(try await client.send("GET", "it:binary") == .bulkString(bytes))
        }
    }

    @Test func tenThousandConcurrentCommandsOnOneConnectionEachGetTheirOwnReply() async throws {
        let count = 10_000
        try await withClient(try makeClient(try RedisServer.required(), timeout: .seconds(10), connections: 1)) { client async throws in
            let mismatches = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<count {
                    group.addTask {
                        // ECHO returns the caller's own argument: a reply handed to the
                        // wrong caller shows up as a mismatch.
                        let reply = try await client.send("ECHO", .string("caller-\(index)"))
                        return reply.string == "caller-\(index)" ? 0 : 1
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(mismatches == 0)
        }
    }

    @Test func errorRepliesAreTypedServerErrors() async throws {
        try await withClient(try makeClient(try RedisServer.required())) { client async throws in
            _ = try await client.send("SET", "it:string", "x")
            let error = await #expect(throws: RedisClientError.self) {
                try await client.send("INCR", "it:string")
            }
            #expect(error?.kind == .server)
            #expect(error?.message == "ERR value is not an integer or out of range")
            // The connection is fine afterwards.
            try await client.ping()
        }
    }

    @Test func scriptsRunByShaAndReloadAfterScriptFlush() async throws {
        let script = RedisScript("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}")
        try await withClient(try makeClient(try RedisServer.required())) { client async throws in
            // Our SHA1 is the one Redis computes.
            let loaded = try await client.send("SCRIPT", "LOAD", .string(script.source))
            #expect(loaded.string == script.sha1)

            let first = try await client.evaluate(script, keys: ["it:script"], arguments: ["a"])
            #expect(first == .array([.bulkString(ByteBuffer(string: "it:script")), .bulkString(ByteBuffer(string: "a")), .integer(1)]))

            _ = try await client.send("SCRIPT", "FLUSH")
            let afterFlush = try await client.evaluate(script, keys: ["it:script"], arguments: ["b"])
            #expect(afterFlush.array?.last == .integer(2))
        }
    }

    @Test func selectsTheDatabaseOfTheURL() async throws {
        let server = try RedisServer.required()
        try await withClient(try makeClient(server, database: 3)) { client async throws in
            _ = try await client.send("SET", "it:db", "three")
        }
        try await withClient(try makeClient(server)) { client async throws in
            #expect(try await client.send("GET", "it:db") == .null)
            _ = try await client.send("SELECT", 3)
        }
        try await withClient(try makeClient(server, database: 3)) { client async throws in
            #expect(try await client.send("GET", "it:db").string == "three")
        }
    }

    @Test func commandsAreSpreadOverSeveralConnections() async throws {
        try await withClient(try makeClient(try RedisServer.required(), connections: 3)) { client async throws in
            for _ in 0..<6 { try await client.ping() }
            let clients = try await client.send("CLIENT", "LIST").string ?? ""
            // The three connections of this client plus those of tests running beside it.
            #expect(clients.split(separator: "\n").count >= 3)
        }
    }

    @Test func commandsAfterShutdownFailAtOnce() async throws {
        let client = try makeClient(try RedisServer.required())
        try await client.ping()
        await client.shutdown()
        let error = await #expect(throws: RedisClientError.self) { try await client.ping() }
        #expect(error?.kind == .shutdown)
    }

    @Test func serviceGroupGracefulShutdownClosesTheClient() async throws {
        let client = try makeClient(try RedisServer.required())
        let group = ServiceGroup(services: [client], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await client.ping()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let error = await #expect(throws: RedisClientError.self) { try await client.ping() }
        #expect(error?.kind == .shutdown)
    }
}

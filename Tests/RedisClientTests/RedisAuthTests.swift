import Logging
import RedisClient
import RedisTestSupport
import Testing

@Suite("AUTH against requirepass and ACL users", .redisServer("--requirepass", "s3cret pass"))
struct RedisAuthTests {
    @Test func passwordFromTheURLAuthenticates() async throws {
        try await withClient(try makeClient(try RedisServer.required(), password: "s3cret pass")) { client async throws in
            try await client.ping()
        }
    }

    @Test func redisPasswordOverridesTheURLPassword() async throws {
        let server = try RedisServer.required()
        var configuration = try RedisClientConfiguration(url: "redis://:wrong@127.0.0.1:\(server.port)", password: "s3cret pass")
        configuration.connectionsPerNode = 1
        let client = try RedisClient(configuration: configuration, logger: .init(label: "test"))
        try await client.ping()
        await client.shutdown()
    }

    @Test func wrongPasswordIsAClearAuthenticationError() async throws {
        try await withClient(try makeClient(try RedisServer.required(), password: "nope")) { client async throws in
            let error = await #expect(throws: RedisClientError.self) { try await client.ping() }
            #expect(error?.kind == .authentication)
            #expect(error?.message.hasPrefix("AUTH was refused: WRONGPASS") == true, "\(String(describing: error))")
        }
    }

    @Test func missingPasswordIsRefusedByTheServer() async throws {
        try await withClient(try makeClient(try RedisServer.required())) { client async throws in
            let error = await #expect(throws: RedisClientError.self) { try await client.ping() }
            #expect(error?.kind == .server)
            #expect(error?.serverErrorCode == "NOAUTH")
        }
    }

    @Test func aclUserAuthenticatesWithNameAndPassword() async throws {
        let server = try RedisServer.required()
        try await withClient(try makeClient(server, password: "s3cret pass")) { admin async throws in
            _ = try await admin.send("ACL", "SETUSER", "payments", "on", ">app-pass", "~pay:*", "+@all")
        }
        try await withClient(try makeClient(server, password: "app-pass", username: "payments")) { client async throws in
            #expect(try await client.send("ACL", "WHOAMI").string == "payments")
            _ = try await client.send("SET", "pay:acl", "ok")
            let denied = await #expect(throws: RedisClientError.self) { try await client.send("SET", "other:acl", "no") }
            #expect(denied?.serverErrorCode == "NOPERM")
        }
        try await withClient(try makeClient(server, password: "not-it", username: "payments")) { client async throws in
            let error = await #expect(throws: RedisClientError.self) { try await client.ping() }
            #expect(error?.kind == .authentication)
        }
    }
}

import Logging
import RedisClient
import Testing

/// Runs `body` with `client` and shuts the client down afterwards, also when `body`
/// throws: a client left open would keep its connections and event-loop tasks alive.
public func withClient(_ client: RedisClient, _ body: (RedisClient) async throws -> Void) async throws {
    do {
        try await body(client)
        await client.shutdown()
    } catch {
        await client.shutdown()
        throw error
    }
}

/// Runs `body` with a client for the suite's redis-server (`RedisServer.required()`), with a
/// generous deadline and quiet logs, and shuts it down afterwards.
public func withSuiteRedis(_ body: (RedisClient) async throws -> Void) async throws {
    var configuration = try RedisClientConfiguration(url: try RedisServer.required().url)
    configuration.commandTimeout = .seconds(5)
    var logger = Logger(label: "redis-test")
    logger.logLevel = .critical
    try await withClient(try RedisClient(configuration: configuration, logger: logger), body)
}

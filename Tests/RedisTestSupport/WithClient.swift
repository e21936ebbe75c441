import RedisClient

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

import RedisClient
import RedisTestSupport
import Testing

/// Tests that stop or kill their suite's server: each suite has its own server and runs
/// its tests one at a time.
@Suite("deadline while the server is paused", .redisServer(), .serialized)
struct RedisPausedServerTimingTests {
    @Test func commandFailsWithinTheDeadlineAndTheClientRecoversAfterSIGCONT() async throws {
        let server = try RedisServer.required()
        try await withClient(try makeClient(server, timeout: .milliseconds(500))) { client async throws in
            try await client.ping()
            server.pause()
            let start = ContinuousClock.now
            let error = await #expect(throws: RedisClientError.self) { try await client.send("GET", "paused") }
            let elapsed = ContinuousClock.now - start
            server.resume()

            #expect(error?.kind == .timeout)
            #expect(elapsed >= .milliseconds(500), "failed before the deadline: \(elapsed)")
            // Bounded, not hung; the slack is for two cores shared with the other timing suites.
            #expect(elapsed < .milliseconds(1_500), "deadline 500 ms, failed after \(elapsed)")
            // The very next command succeeds (on a new connection).
            #expect(try await client.send("ECHO", "back").string == "back")
        }
    }
}

import RedisClient
import RedisTestSupport
import Testing

@Suite("reconnect after the server restarts", .redisServer(), .serialized)
struct RedisRestartedServerTimingTests {
    @Test func failsFastWhileDownAndReconnectsWhenTheServerReturns() async throws {
        let server = try RedisServer.required()
        // A first back-off of 250-500 ms keeps the circuit open long enough to observe.
        try await withClient(try makeClient(server, timeout: .milliseconds(500), reconnectBaseDelay: .milliseconds(500))) { client async throws in
            _ = try await client.send("SET", "restart", "before")
            server.kill()

            // The open connection breaks, then connects are refused and the circuit opens.
            // How many calls see the broken connection first depends on when its close
            // is noticed, so look for the open circuit within a few calls.
            var circuitOpen: RedisClientError?
            var fastEnough = false
            for _ in 0..<5 where circuitOpen == nil {
                let start = ContinuousClock.now
                let error = await #expect(throws: RedisClientError.self) { try await client.ping() }
                #expect(error?.kind == .connection)
                if error?.message.contains("circuit open") == true {
                    circuitOpen = error
                    // Well under the 500 ms deadline: it did not wait.
                    fastEnough = ContinuousClock.now - start < .milliseconds(250)
                }
            }
            #expect(circuitOpen != nil, "no call failed with the circuit open")
            #expect(fastEnough, "an open circuit fails without waiting")

            try await server.restart()
            // Back-off is capped at 1 s: the client must be back well within 3 s.
            let deadline = ContinuousClock.now + .seconds(3)
            var reply: RESPValue?
            while reply == nil, ContinuousClock.now < deadline {
                reply = try? await client.send("ECHO", "after")
                if reply == nil { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(reply?.string == "after")
        }
    }
}

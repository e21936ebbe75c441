import Logging
import Metrics
import MetricsTestKit
import RedisClient
import RedisTestSupport
import Testing

@Suite("client metrics", .redisServer())
struct RedisMetricsTests {
    @Test func recordsDurationsByCommandAndErrorsByKind() async throws {
        let server = try RedisServer.required()
        let metrics = TestMetrics()
        let configuration = RedisClientConfiguration(
            url: RedisURL(host: "127.0.0.1", port: server.port),
            connectionsPerNode: 1
        )
        let client = try RedisClient(configuration: configuration, logger: Logger(label: "test"), metricsFactory: metrics)
        _ = try await client.send("SET", "metrics:key", "v")
        _ = try await client.send("GET", "metrics:key")
        _ = try await client.send("GET", "metrics:key")
        _ = try? await client.send("INCR", "metrics:key")
        await client.shutdown()
        _ = try? await client.send("GET", "metrics:key")

        let gets = try metrics.expectTimer("redis_command_duration_seconds", [("command", "GET")])
        #expect(gets.values.count == 2)
        #expect(gets.values.allSatisfy { $0 > 0 })
        #expect(try metrics.expectTimer("redis_command_duration_seconds", [("command", "SET")]).values.count == 1)
        #expect(try metrics.expectCounter("redis_errors_total", [("kind", "server")]).totalValue == 1)
        #expect(try metrics.expectCounter("redis_errors_total", [("kind", "shutdown")]).totalValue == 1)
        #expect(try metrics.expectCounter("redis_errors_total", [("kind", "timeout")]).totalValue == 0)
    }
}

import Logging
import NIOCore
import RedisClient
import RedisTestSupport
import Tracing

/// A client for the suite's redis-server, configured as the tests need.
func makeClient(
    _ server: RedisServer,
    password: String? = nil,
    username: String? = nil,
    database: Int = 0,
    timeout: Duration = .milliseconds(500),
    connections: Int = 1,
    reconnectBaseDelay: Duration = .milliseconds(25),
    tracer: (any Tracer)? = nil
) throws -> RedisClient {
    let url = RedisURL(host: "127.0.0.1", port: server.port, username: username, password: password, database: database)
    var configuration = RedisClientConfiguration(
        url: url,
        commandTimeout: timeout,
        connectionsPerNode: connections,
        reconnectBaseDelay: reconnectBaseDelay
    )
    configuration.tracer = tracer
    return try RedisClient(configuration: configuration, logger: Logger(label: "redis-test"))
}

import Logging
import NIOCore
import RedisClient
import RedisTestSupport
import Tracing

/// A client for the suite's redis-server, configured as the tests need. Its command
/// timeout is 5 s unless a test needs one to pass (and says so): 500 ms once failed a
/// connect and AUTH in CI ("no connection within 500 ms"), with every suite running
/// beside the fuzz build on 2 cores.
func makeClient(
    _ server: RedisServer,
    password: String? = nil,
    username: String? = nil,
    database: Int = 0,
    timeout: Duration = .seconds(5),
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

import Logging
import PaymentCore
import PaymentRedis
import RedisClient
import RedisTestSupport

/// Starts `count` independent redis-server processes, one Redis client for each (1 s
/// per-node timeout, quick reconnects), and a Redlock over them; stops all afterwards.
/// A killed node refuses connections at once, so the timeout only bounds a live node that
/// is slow in the parallel test run, where 200 ms was sometimes too little.
func withLockNodes(_ count: Int = 3, _ body: ([RedisServer], Redlock) async throws -> Void) async throws {
    var servers: [RedisServer] = []
    defer { servers.forEach { $0.stop() } }
    var clients: [RedisClient] = []
    for _ in 0..<count {
        let server = try await RedisServer.start()
        servers.append(server)
        var configuration = try RedisClientConfiguration(url: server.url)
        configuration.commandTimeout = .seconds(1)
        configuration.reconnectMaxDelay = .milliseconds(100)
        clients.append(try RedisClient(configuration: configuration, logger: quietLogger()))
    }
    do {
        try await body(servers, Redlock(nodes: clients))
    } catch {
        for client in clients { await client.shutdown() }
        throw error
    }
    for client in clients { await client.shutdown() }
}

/// A random owner token, as the service makes one per request.
func owner() -> String {
    "owner-\(UInt64.random(in: 0...UInt64.max))"
}

extension KeyLockAcquisition {
    var isAcquired: Bool {
        if case .acquired = self { true } else { false }
    }
}

/// Killed nodes are the point of these tests: their reconnect warnings are noise here.
private func quietLogger() -> Logger {
    var logger = Logger(label: "redlock-test")
    logger.logLevel = .critical
    return logger
}

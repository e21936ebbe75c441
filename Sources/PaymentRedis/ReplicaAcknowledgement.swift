import RedisClient

/// `REDIS_WAIT_REPLICAS`: a commit counts only once this many replicas acknowledged it,
/// within `timeout` (`REDIS_WAIT_TIMEOUT_MS`), so that a failover to one of them keeps it.
///
/// `client` is a Redis client of its own for these writes: WAIT blocks the connection it
/// is sent on, and the main client's pipelined connections carry every other command
/// (begin, replays, health checks), which one slow replica must not hold up. Its command
/// timeout covers the WAIT timeout. Several (commit, WAIT) pairs may share one of its
/// connections; each WAIT then covers the commits before it.
public struct ReplicaAcknowledgement: Sendable {
    public let client: RedisClient
    public let replicas: Int
    public let timeout: Duration

    public init(client: RedisClient, replicas: Int, timeout: Duration) {
        precondition(replicas > 0, "no replicas to wait for: use no acknowledgement")
        self.client = client
        self.replicas = replicas
        self.timeout = timeout
    }
}

import NIOCore
import Tracing

/// How a `RedisClient` connects and how long it waits.
public struct RedisClientConfiguration: Sendable {
    /// The node to talk to, with credentials and database. In cluster mode, the first seed.
    public var url: RedisURL
    /// Redis Cluster: the seed nodes to read the slot map from; nil for a single node.
    public var clusterSeeds: [RedisURL]?
    /// Deadline of every command, counted from the call; also the connect timeout
    /// (which covers AUTH and SELECT).
    public var commandTimeout: Duration
    /// Connections to each node; nil means one per event loop of the group.
    public var connectionsPerNode: Int?
    /// Commands in flight on one connection beyond which a caller gets an overload error.
    public var maxPendingCommandsPerConnection: Int
    /// First reconnect delay after a failed connect; doubled on each further failure.
    public var reconnectBaseDelay: Duration
    /// Upper bound of the reconnect delay.
    public var reconnectMaxDelay: Duration
    /// Certificates for `rediss://` URLs; unused for `redis://`.
    public var tls = RedisTLSConfiguration()
    /// Makes a client span per command sent while a caller's span is the current
    /// `ServiceContext` (RedisClient+Tracing.swift); nil: none, at the cost of one check.
    public var tracer: (any Tracer)?

    public init(
        url: RedisURL,
        commandTimeout: Duration = .milliseconds(500),
        connectionsPerNode: Int? = nil,
        maxPendingCommandsPerConnection: Int = 16_384,
        reconnectBaseDelay: Duration = .milliseconds(25),
        reconnectMaxDelay: Duration = .seconds(1)
    ) {
        self.url = url
        self.commandTimeout = commandTimeout
        self.connectionsPerNode = connectionsPerNode
        self.maxPendingCommandsPerConnection = maxPendingCommandsPerConnection
        self.reconnectBaseDelay = reconnectBaseDelay
        self.reconnectMaxDelay = reconnectMaxDelay
    }

    /// Parses `REDIS_URL`; a non-empty `password` (from `REDIS_PASSWORD`, a mounted
    /// Secret) replaces the URL's password. With `cluster`, the text is a comma-separated
    /// list of seed nodes.
    public init(url text: String, password: String? = nil, cluster: Bool = false) throws(RedisURLError) {
        var urls: [RedisURL] = []
        for part in cluster ? text.split(separator: ",").map(String.init) : [text] {
            var url = try RedisURL(parsing: part)
            if let password, !password.isEmpty {
                url.password = password
            }
            urls.append(url)
        }
        guard let first = urls.first else { throw RedisURLError("no seed node given") }
        self.init(url: first)
        if cluster { clusterSeeds = urls }
    }

    /// Checks the values a caller may have set by hand.
    func validate() throws(RedisClientError) {
        let urls = clusterSeeds ?? [url]
        guard urls.allSatisfy({ $0.tls == url.tls }) else {
            throw RedisClientError(.connection, "mixing redis:// and rediss:// seeds: all nodes must use TLS or none")
        }
        guard commandTimeout > .zero else {
            throw RedisClientError(.connection, "command timeout must be positive")
        }
        guard maxPendingCommandsPerConnection > 0, (connectionsPerNode ?? 1) > 0 else {
            throw RedisClientError(.connection, "connection and in-flight limits must be positive")
        }
        if let seeds = clusterSeeds {
            guard !seeds.isEmpty, seeds.allSatisfy({ $0.database == 0 }) else {
                throw RedisClientError(.connection, "cluster mode needs at least one seed and database 0 (Redis Cluster has no SELECT)")
            }
        }
    }

    /// AUTH and SELECT, sent first on every new connection.
    var handshakeCommands: [RedisCommand] {
        var commands: [RedisCommand] = []
        if let password = url.password {
            if let username = url.username {
                commands.append(RedisCommand("AUTH", .string(username), .string(password)))
            } else {
                commands.append(RedisCommand("AUTH", .string(password)))
            }
        }
        if url.database != 0 {
            commands.append(RedisCommand("SELECT", .integer(url.database)))
        }
        return commands
    }
}

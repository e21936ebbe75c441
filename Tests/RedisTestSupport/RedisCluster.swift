import Foundation
import Logging
import RedisClient
import Testing

/// A real Redis Cluster for integration tests: `masters` redis-server processes in
/// cluster mode on free loopback ports, joined with `redis-cli --cluster create`, each
/// master owning a third (or so) of the slots. No replicas.
public final class RedisCluster: Sendable {
    public let nodes: [RedisServer]

    /// The cluster of the innermost `.redisCluster` suite trait.
    @TaskLocal public static var current: RedisCluster?

    /// Comma-separated seed URLs, as `REDIS_URL` takes them in cluster mode.
    public var seedURLs: String { nodes.map(\.url).joined(separator: ",") }

    private init(nodes: [RedisServer]) {
        self.nodes = nodes
    }

    /// `arguments` are extra configuration for every node, e.g.
    /// `--cluster-require-full-coverage no` for a test that stops a master.
    public static func start(masters: Int = 3, arguments: [String] = []) async throws -> RedisCluster {
        var nodes: [RedisServer] = []
        do {
            for _ in 0..<masters {
                nodes.append(try await RedisServer.start(arguments: [
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000",
                ] + arguments, clusterNode: true))
            }
            let addresses = nodes.map { "127.0.0.1:\($0.port)" }
            let output = try await redisCLI(["--cluster", "create"] + addresses + ["--cluster-replicas", "0", "--cluster-yes"])
            guard output.contains("[OK] All 16384 slots covered") else {
                throw RedisServerError("redis-cli --cluster create did not cover all slots: \(output.suffix(400))")
            }
            // Every node must agree before tests start.
            let deadline = ContinuousClock.now + .seconds(15)
            for node in nodes {
                while !(try await redisCLI(["-p", "\(node.port)", "cluster", "info"]).contains("cluster_state:ok")) {
                    guard ContinuousClock.now < deadline else { throw RedisServerError("the cluster did not reach cluster_state:ok in 15 s") }
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            return RedisCluster(nodes: nodes)
        } catch {
            for node in nodes { node.stop() }
            throw error
        }
    }

    public func stop() {
        for node in nodes { node.stop() }
    }

    /// The node that owns `slot` as `CLUSTER SLOTS` on `asking` (the first node by default)
    /// reports it. Ask a node that answers: a stopped one would not.
    public func owner(of slot: Int, asking: RedisServer? = nil) async throws -> RedisServer {
        let asked = asking ?? nodes[0]
        var configuration = try RedisClientConfiguration(url: asked.url)
        configuration.commandTimeout = .seconds(5)
        var logger = Logger(label: "redis-cluster-test")
        logger.logLevel = .critical
        let client = try RedisClient(configuration: configuration, logger: logger)
        let reply: RESPValue
        do {
            reply = try await client.send(RedisCommand("CLUSTER", "SLOTS"))
            await client.shutdown()
        } catch {
            await client.shutdown()
            throw error
        }
        for range in reply.array ?? [] {
            guard let fields = range.array, fields.count >= 3, let start = fields[0].int, let end = fields[1].int,
                  let port = fields[2].array?[1].int, (start...end).contains(slot)
            else { continue }
            if let node = nodes.first(where: { $0.port == port }) { return node }
        }
        throw RedisServerError("no node of the cluster owns slot \(slot)")
    }

    /// Runs `redis-cli` with `arguments` and returns what it printed.
    public static func redisCLI(_ arguments: [String]) async throws -> String {
        try await runTool("redis-cli", arguments).output
    }
}

/// A suite trait that starts one Redis Cluster for the suite and stops it afterwards.
public struct RedisClusterTrait: SuiteTrait, TestScoping {
    let masters: Int
    let arguments: [String]
    public var isRecursive: Bool { false }

    public func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        let cluster = try await RedisCluster.start(masters: masters, arguments: arguments)
        defer { cluster.stop() }
        try await RedisCluster.$current.withValue(cluster) { try await function() }
    }
}

extension Trait where Self == RedisClusterTrait {
    /// One cluster for the suite; `arguments` go to every node's redis-server.
    public static func redisCluster(masters: Int = 3, arguments: [String] = []) -> Self {
        RedisClusterTrait(masters: masters, arguments: arguments)
    }
}

extension RedisCluster {
    public static func required(sourceLocation: SourceLocation = #_sourceLocation) throws -> RedisCluster {
        try #require(current, "this test must run inside a @Suite(.redisCluster()) suite", sourceLocation: sourceLocation)
    }
}

import Foundation
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

    public static func start(masters: Int = 3) async throws -> RedisCluster {
        var nodes: [RedisServer] = []
        do {
            for _ in 0..<masters {
                nodes.append(try await RedisServer.start(arguments: [
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000",
                ], clusterNode: true))
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

    /// Runs `redis-cli` with `arguments` and returns what it printed.
    public static func redisCLI(_ arguments: [String]) async throws -> String {
        try await runTool("redis-cli", arguments).output
    }
}

/// A suite trait that starts one Redis Cluster for the suite and stops it afterwards.
public struct RedisClusterTrait: SuiteTrait, TestScoping {
    let masters: Int
    public var isRecursive: Bool { false }

    public func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        let cluster = try await RedisCluster.start(masters: masters)
        defer { cluster.stop() }
        try await RedisCluster.$current.withValue(cluster) { try await function() }
    }
}

extension Trait where Self == RedisClusterTrait {
    public static func redisCluster(masters: Int = 3) -> Self {
        RedisClusterTrait(masters: masters)
    }
}

extension RedisCluster {
    public static func required(sourceLocation: SourceLocation = #_sourceLocation) throws -> RedisCluster {
        try #require(current, "this test must run inside a @Suite(.redisCluster()) suite", sourceLocation: sourceLocation)
    }
}

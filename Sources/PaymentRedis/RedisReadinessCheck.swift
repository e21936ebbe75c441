import PaymentCore
import RedisClient

/// One look at whether this replica can serve payments: every node answers and has the
/// scripts (missing ones are loaded; on a cluster, every master, each reporting
/// `cluster_state:ok`), the slot map is whole, the replicas required are in sync, and in
/// Redlock mode a majority of lock nodes answers. `RedisVerdict.judge` says what a
/// failing master means for a pod.
public struct RedisReadinessCheck: Sendable {
    let redis: RedisClient
    let redlock: Redlock?
    /// With `REDIS_WAIT_REPLICAS`: refreshed on every check (PaymentService reads it).
    let replicaSync: ReplicaSync?

    public func check() async -> RedisVerdict {
        let cluster = redis.isCluster
        var verdict: RedisVerdict
        do throws(RedisClientError) {
            let outcomes = try await redis.onEveryNode { node throws(RedisClientError) in
                try await PaymentScripts.ensureLoaded(on: node)
                if cluster { try await RedisVerdict.expectClusterStateOK(node) }
            }
            verdict = RedisVerdict.judge(outcomes: outcomes, uncovered: try await redis.uncoveredSlots())
        } catch {
            return RedisVerdict(problem: "redis: \(error.message)")
        }
        if let replicaSync {
            await replicaSync.refresh(redis)
            let short = replicaSync.shortShards
            verdict.replicasInSync = short.isEmpty
            if !short.isEmpty {
                let list = short.map { "\($0.address): \($0.inSync.map(String.init) ?? "unknown") in sync" }.joined(separator: "; ")
                let text = "fewer than \(replicaSync.required) redis replicas in sync (REDIS_WAIT_REPLICAS), payments refused before charging: \(list)"
                // As for masters that do not serve: on a cluster a shard short of
                // replicas is the same for every pod; its payments get 503, the rest go on.
                if cluster && short.count < replicaSync.shardCount {
                    verdict.degraded = [verdict.degraded, text].compactMap { $0 }.joined(separator: "; ")
                } else if verdict.problem == nil {
                    verdict.problem = text
                }
            }
        }
        guard verdict.problem == nil, let quorum = await redlock?.quorumProblem() else { return verdict }
        verdict.problem = quorum
        return verdict
    }
}

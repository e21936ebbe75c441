import RedisClient

/// The readiness check's judgement of Redis: whether this pod can serve, and while it can,
/// which cluster masters do not.
public struct RedisVerdict: Sendable, Hashable {
    /// Why this pod cannot serve; nil when it can.
    public var problem: String?
    /// While ready: the masters that do not serve and their slots, for /readyz.
    public var degraded: String?
    /// The addresses behind `degraded`: logs follow changes of this set.
    public var unavailableMasters: [String] = []
    /// With replicas required (`REDIS_WAIT_REPLICAS`): whether every master has them;
    /// nil when none are required or Redis could not be checked.
    public var replicasInSync: Bool?

    public init(problem: String? = nil, degraded: String? = nil, unavailableMasters: [String] = []) {
        self.problem = problem
        self.degraded = degraded
        self.unavailableMasters = unavailableMasters
    }

    public static let unchecked = RedisVerdict(problem: "redis has not been checked yet")

    /// The definition of readiness against Redis.
    ///
    /// A single node: ready when it answers and has the scripts (or they were just loaded).
    ///
    /// A cluster: ready when this pod's slot map covers all 16,384 slots and at least one
    /// master answers, has the scripts and reports `cluster_state:ok`. Masters that fail
    /// are reported in the reason (address and slots) and the gauge
    /// `redis_cluster_masters_unavailable`, but the pod stays ready. Why: readiness is for
    /// the load balancer, which can only choose between pods. A dead master is dead for
    /// every pod alike, so taking pods out of rotation sends its users nowhere better, and
    /// turns the other two thirds of the slots, which every pod could still serve, into no
    /// endpoints at all for the whole failover (seconds, plus a slot-map refresh). Requests
    /// for the dead master's slots fail on their own with 503 and Retry-After, and clients
    /// retry them. What is specific to one pod makes that pod unready: a slot map with holes
    /// (it cannot route some keys while other pods may), no master answering it at all, a
    /// lost Redlock quorum, a shutdown.
    static func judge(outcomes: [RedisNodeOutcome<Void>], uncovered: [ClosedRange<Int>]) -> RedisVerdict {
        if !uncovered.isEmpty {
            return RedisVerdict(problem: "redis cluster: this pod's slot map has no master for slots \(describe(uncovered)); refreshing it")
        }
        let failed = outcomes.compactMap { outcome -> (RedisNodeOutcome<Void>, RedisClientError)? in
            if case .failure(let error) = outcome.result { (outcome, error) } else { nil }
        }
        guard let first = failed.first else {
            return outcomes.isEmpty ? RedisVerdict(problem: "redis: no node to check") : RedisVerdict()
        }
        if outcomes.count == 1 { return RedisVerdict(problem: "redis: \(first.1.message)") }
        let list = failed.map { "\($0.0.address) (slots \(describe($0.0.slots))): \($0.1.message)" }.joined(separator: "; ")
        if failed.count == outcomes.count {
            return RedisVerdict(problem: "redis cluster: no master serves: \(list)")
        }
        return RedisVerdict(
            degraded: "redis cluster degraded: \(failed.count) of \(outcomes.count) masters not serving, "
                + "requests for their slots fail with 503: \(list)",
            unavailableMasters: failed.map(\.0.address)
        )
    }

    /// A master that answers but reports `cluster_state:fail` refuses every command with
    /// a key (CLUSTERDOWN), while SCRIPT EXISTS, keyless, still works: ask.
    static func expectClusterStateOK(_ node: RedisNodeConnection) async throws(RedisClientError) {
        let info = try await node.send(RedisCommand("CLUSTER", "INFO"))
        guard let text = info.string, text.contains("cluster_state:ok") else {
            throw RedisClientError(.server, "CLUSTERDOWN: the node reports cluster_state other than ok")
        }
    }

    /// `0-5460,5462`.
    static func describe(_ ranges: [ClosedRange<Int>]) -> String {
        ranges.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ",")
    }
}

import PaymentCore
import RedisClient
import Synchronization

/// With `REDIS_WAIT_REPLICAS=N`: whether each master (each shard in cluster mode) has N
/// replicas attached and in sync, as last seen by `refresh` (the readiness monitor calls
/// it every second). A payment whose shard has fewer is refused before the processor is
/// asked: a charge that cannot be acknowledged would be charged and answered 503.
///
/// In sync: `state=online` in `INFO replication` and acknowledged within `maximumLag`
/// (`lag=` is the seconds since the replica's last acknowledgement; replicas send one a
/// second). Until the first refresh nothing is known, and nothing is let through.
public final class ReplicaSync: ReplicaGate {
    public let required: Int
    public let keys: PaymentKeys
    /// Replicas whose last acknowledgement is older are not counted.
    public static let maximumLag = 2

    /// One entry per master: its slots (empty for a single node: all keys) and replicas.
    private let shards = Mutex<[Shard]?>(nil)

    public struct Shard: Sendable, Hashable {
        public let address: String
        public let slots: [ClosedRange<Int>]
        /// Replicas in sync; nil when the master could not be asked.
        public let inSync: Int?
    }

    public init(required: Int, keys: PaymentKeys = PaymentKeys()) {
        self.required = required
        self.keys = keys
    }

    public func shortfall(for request: PaymentRequest) -> ReplicaShortfall? {
        guard let shards = shards.withLock({ $0 }) else { return ReplicaShortfall(acknowledged: 0, required: required) }
        let slot = ClusterKeySlot.slot(for: keys.idempotency(request))
        let shard = shards.first { $0.slots.isEmpty || $0.slots.contains { $0.contains(slot) } }
        let inSync = shard?.inSync ?? 0
        return inSync >= required ? nil : ReplicaShortfall(acknowledged: inSync, required: required)
    }

    /// The masters last asked.
    public var shardCount: Int { shards.withLock { $0?.count ?? 0 } }

    /// The shards short of replicas now, for readiness; empty when all have them.
    public var shortShards: [Shard] {
        (shards.withLock { $0 } ?? []).filter { ($0.inSync ?? 0) < required }
    }

    /// Asks every master for its replicas.
    public func refresh(_ client: RedisClient) async {
        do throws(RedisClientError) {
            let outcomes = try await client.onEveryNode { node throws(RedisClientError) in
                try await node.send(RedisCommand("INFO", "replication"))
            }
            let seen = outcomes.map { outcome in
                Shard(address: outcome.address, slots: outcome.slots, inSync: (try? outcome.result.get()).flatMap { $0.string.map(Self.inSyncReplicas) })
            }
            shards.withLock { $0 = seen }
        } catch {
            shards.withLock { $0 = [] }
        }
    }

    /// Counts `slaveN:ip=…,port=…,state=online,offset=…,lag=L` lines with a small lag.
    public static func inSyncReplicas(_ info: String) -> Int {
        info.split(whereSeparator: \.isNewline).count { line in
            guard line.hasPrefix("slave"), let colon = line.firstIndex(of: ":") else { return false }
            let fields = Dictionary(
                line[line.index(after: colon)...].split(separator: ",").compactMap { pair -> (Substring, Substring)? in
                    guard let equals = pair.firstIndex(of: "=") else { return nil }
                    return (pair[..<equals], pair[pair.index(after: equals)...])
                },
                uniquingKeysWith: { first, _ in first }
            )
            guard fields["state"] == "online", let lag = fields["lag"].flatMap({ Int($0) }) else { return false }
            return lag <= maximumLag
        }
    }
}

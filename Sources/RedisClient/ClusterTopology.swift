/// Which node serves which slots, as `CLUSTER SLOTS` reports it.
struct ClusterTopology: Sendable, Hashable {
    struct Node: Sendable, Hashable, CustomStringConvertible {
        var host: String
        var port: Int
        var description: String { "\(host):\(port)" }
    }

    /// The master of each slot; nil while a slot is not covered.
    private(set) var owners: [Node?]
    /// Every master that owns a slot. Kept, not derived: commands ask for it, and a
    /// walk over 16,384 slots per command would cost more than the command.
    private(set) var nodes: Set<Node> = []

    init() {
        owners = Array(repeating: nil, count: ClusterKeySlot.count)
    }

    func owner(of slot: Int) -> Node? { owners[slot] }

    /// A MOVED redirect: the slot now lives on `node`. Rare, so recounting is fine.
    mutating func move(slot: Int, to node: Node) {
        owners[slot] = node
        nodes = Set(owners.compactMap { $0 })
    }

    /// The map as runs of consecutive slots with one owner each (nil: not covered), in
    /// slot order. A walk over every slot: for the readiness check (once a second) and
    /// reports, never per command.
    func slotRuns() -> [(owner: Node?, slots: ClosedRange<Int>)] {
        var runs: [(owner: Node?, slots: ClosedRange<Int>)] = []
        var start = 0
        for slot in 1...owners.count where slot == owners.count || owners[slot] != owners[start] {
            runs.append((owners[start], start...(slot - 1)))
            start = slot
        }
        return runs
    }

    /// Parses a `CLUSTER SLOTS` reply: `[[start, end, [host, port, id?], replicas…], …]`.
    /// An empty host means "the address you reached me at", as Redis documents.
    init(clusterSlots reply: RESPValue, defaultHost: String) throws(RedisClientError) {
        self.init()
        guard let ranges = reply.array else { throw Self.invalid(reply) }
        for range in ranges {
            guard let fields = range.array, fields.count >= 3,
                  let start = fields[0].int, let end = fields[1].int,
                  start >= 0, end < ClusterKeySlot.count, start <= end,
                  let master = fields[2].array, master.count >= 2,
                  let host = master[0].string, let port = master[1].int
            else { throw Self.invalid(reply) }
            let node = Node(host: host.isEmpty || host == "?" ? defaultHost : host, port: port)
            for slot in start...end { owners[slot] = node }
        }
        nodes = Set(owners.compactMap { $0 })
    }

    private static func invalid(_ reply: RESPValue) -> RedisClientError {
        RedisClientError(.protocol, "CLUSTER SLOTS answered an unexpected \(reply)")
    }
}

/// A cluster redirect or transient state in an error reply.
enum ClusterRedirect: Equatable {
    case moved(slot: Int, ClusterTopology.Node)
    case ask(slot: Int, ClusterTopology.Node)
    /// TRYAGAIN, CLUSTERDOWN, LOADING: retry after a short pause.
    case retryLater

    init?(_ error: RedisClientError) {
        guard error.kind == .server else { return nil }
        let parts = error.message.split(separator: " ")
        switch parts.first {
        case "MOVED", "ASK":
            guard parts.count == 3, let slot = Int(parts[1]), let colon = parts[2].lastIndex(of: ":"),
                  let port = Int(parts[2][parts[2].index(after: colon)...])
            else { return nil }
            let node = ClusterTopology.Node(host: String(parts[2][..<colon]), port: port)
            self = parts[0] == "MOVED" ? .moved(slot: slot, node) : .ask(slot: slot, node)
        case "TRYAGAIN", "CLUSTERDOWN", "LOADING":
            self = .retryLater
        default:
            return nil
        }
    }
}

import Logging
import Synchronization

/// Routes commands in Redis Cluster mode: CRC16 slot of the key → the slot's master,
/// from a slot map read with `CLUSTER SLOTS`. MOVED updates the map and retries on the
/// named node; ASK sends `ASKING` and the command back to back to the named node;
/// TRYAGAIN, CLUSTERDOWN and LOADING retry after a short pause. The map is refreshed
/// after redirects and connection errors (at most every 200 ms) and by `run()` every 10 s,
/// so a promoted replica is found without a restart.
final class ClusterRouter: Sendable {
    static let maximumRedirects = 5

    private struct State {
        var topology = ClusterTopology()
        var nodes: [ClusterTopology.Node: RedisNode] = [:]
        var lastRefresh: ContinuousClock.Instant?
        var refreshing = false
    }

    private let seeds: [RedisURL]
    private let makeNode: @Sendable (RedisURL) -> RedisNode
    private let state = Mutex(State())
    private let logger: Logger

    init(seeds: [RedisURL], logger: Logger, makeNode: @escaping @Sendable (RedisURL) -> RedisNode) {
        self.seeds = seeds
        self.logger = logger
        self.makeNode = makeNode
    }

    /// The pool of a node, made on first use with the seeds' credentials.
    private func node(_ address: ClusterTopology.Node) -> RedisNode {
        state.withLock { state in
            if let node = state.nodes[address] { return node }
            var url = seeds[0]
            url.host = address.host
            url.port = address.port
            let node = makeNode(url)
            state.nodes[address] = node
            return node
        }
    }

    /// Reads the slot map from the first node that answers: known nodes first, then seeds.
    func refresh() async throws(RedisClientError) {
        let known = state.withLock { Array($0.topology.nodes) }
        let candidates = known + seeds.map { ClusterTopology.Node(host: $0.host, port: $0.port) }.filter { !known.contains($0) }
        var lastError = RedisClientError(.connection, "no cluster node to ask for the slot map")
        for candidate in candidates {
            do {
                let reply = try await node(candidate).send(RedisCommand("CLUSTER", "SLOTS"))
                if case .error(let message) = reply { throw RedisClientError(.server, message) }
                let topology = try ClusterTopology(clusterSlots: reply, defaultHost: candidate.host)
                let changed = state.withLock { state in
                    defer {
                        state.topology = topology
                        state.lastRefresh = .now
                    }
                    return state.topology != topology
                }
                if changed { logger.info("redis cluster slot map updated", metadata: ["masters": "\(topology.nodes.count)"]) }
                return
            } catch let error as RedisClientError {
                lastError = error
            } catch {
                lastError = RedisClientError(.connection, "\(error)")
            }
        }
        throw lastError
    }

    /// A refresh in the background, at most one at a time and one per 200 ms.
    private func refreshSoon() {
        let start = state.withLock { state -> Bool in
            if state.refreshing { return false }
            if let last = state.lastRefresh, ContinuousClock.now - last < .milliseconds(200) { return false }
            state.refreshing = true
            return true
        }
        guard start else { return }
        Task {
            try? await self.refresh()
            self.state.withLock { $0.refreshing = false }
        }
    }

    private func ensureTopology() async throws(RedisClientError) {
        if state.withLock({ $0.topology.nodes.isEmpty }) { try await refresh() }
    }

    /// Every master of the current slot map.
    func masters() async throws(RedisClientError) -> [RedisNode] {
        try await ensureTopology()
        return state.withLock { Array($0.topology.nodes) }.map(node)
    }

    /// Sends `command` to the node that owns `key` (any master without a key), following
    /// redirects. Returns the raw reply; an error reply after too many redirects stays one.
    func send(_ command: RedisCommand, key: [UInt8]?) async throws -> RESPValue {
        try await ensureTopology()
        let slot = key.map { ClusterKeySlot.slot(for: $0) }
        var target = state.withLock { state in
            slot.flatMap { state.topology.owner(of: $0) } ?? state.topology.nodes.first
        }
        var asking = false
        var reply = RESPValue.null
        for attempt in 0...Self.maximumRedirects {
            guard let address = target else {
                refreshSoon()
                throw RedisClientError(.connection, "no cluster node serves slot \(slot.map(String.init) ?? "-")")
            }
            do {
                reply = asking
                    ? try await node(address).send([RedisCommand("ASKING"), command])[1]
                    : try await node(address).send(command)
            } catch {
                // The node may be gone (failover): look for the new owner for the next call.
                refreshSoon()
                throw error
            }
            guard case .error(let message) = reply, let redirect = ClusterRedirect(RedisClientError(.server, message)) else {
                return reply
            }
            switch redirect {
            case .moved(let movedSlot, let owner):
                state.withLock { $0.topology.move(slot: movedSlot, to: owner) }
                refreshSoon()
                target = owner
                asking = false
            case .ask(_, let owner):
                target = owner
                asking = true
            case .retryLater:
                try await Task.sleep(for: .milliseconds(10 << attempt))
                asking = false
                target = state.withLock { state in slot.flatMap { state.topology.owner(of: $0) } ?? target }
            }
        }
        return reply
    }

    /// Refreshes the map every 10 s until cancelled.
    func keepRefreshing() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(10))
            try? await refresh()
        }
    }

    func shutdown() async {
        for node in state.withLock({ Array($0.nodes.values) }) { await node.shutdown() }
    }
}

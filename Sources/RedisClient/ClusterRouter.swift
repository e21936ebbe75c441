import Logging
import Synchronization

/// Routes commands in Redis Cluster mode: CRC16 slot of the key → the slot's master,
/// from a slot map read with `CLUSTER SLOTS`. MOVED updates the map and retries on the
/// named node; ASK sends `ASKING` and the command back to back to the named node;
/// TRYAGAIN, CLUSTERDOWN and LOADING retry after a short pause; NOSCRIPT loads the script
/// on the node that answered it and retries there. The map is refreshed after redirects
/// and after any failed exchange with a node, the readiness check's included (at most one
/// refresh per 200 ms), and by `run()` every 10 s, so a promoted replica is found without
/// a restart and without waiting for the periodic refresh.
final class ClusterRouter: Sendable {
    static let maximumRedirects = 5

    private struct State {
        var topology = ClusterTopology()
        var nodes: [ClusterTopology.Node: RedisNode] = [:]
        /// When the last refresh started: the rate limit counts attempts, so a cluster
        /// that answers nobody is not asked again and again by every failing command.
        var lastRefresh: ContinuousClock.Instant?
        var refreshing = false
        /// Nodes whose last exchange failed: asked for the slot map last, so a hung
        /// master does not cost every refresh a command timeout.
        var failing: Set<ClusterTopology.Node> = []
    }

    /// A master of the slot map and the slots it serves.
    struct Master: Sendable {
        var node: ClusterTopology.Node
        var slots: [ClosedRange<Int>]
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

    /// Reads the slot map from the first node that answers: known nodes first, then seeds,
    /// then the nodes that failed last.
    func refresh() async throws(RedisClientError) {
        let (known, failing) = state.withLock { state in
            state.lastRefresh = .now
            return (Array(state.topology.nodes), state.failing)
        }
        let all = known + seeds.map { ClusterTopology.Node(host: $0.host, port: $0.port) }.filter { !known.contains($0) }
        let candidates = all.filter { !failing.contains($0) } + all.filter { failing.contains($0) }
        var lastError = RedisClientError(.connection, "no cluster node to ask for the slot map")
        for candidate in candidates {
            do {
                let reply = try await exchange(RedisCommand("CLUSTER", "SLOTS"), with: candidate, refreshOnFailure: false)
                if case .error(let message) = reply { throw RedisClientError(.server, message) }
                let topology = try ClusterTopology(clusterSlots: reply, defaultHost: candidate.host)
                let changed = state.withLock { state in
                    defer { state.topology = topology }
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

    /// One exchange with one node. A failure marks the node and starts a refresh: a node
    /// that does not answer may have lost its slots to a replica (failover).
    private func exchange(_ command: RedisCommand, with address: ClusterTopology.Node, asking: Bool = false, refreshOnFailure: Bool = true) async throws -> RESPValue {
        try await exchange(command, then: nil, with: address, asking: asking, refreshOnFailure: refreshOnFailure).0
    }

    /// The same with `follow` sent right after `command` on the same connection (WAIT),
    /// and its reply.
    private func exchange(
        _ command: RedisCommand, then follow: RedisCommand?, with address: ClusterTopology.Node, asking: Bool = false,
        refreshOnFailure: Bool = true
    ) async throws -> (RESPValue, RESPValue?) {
        do {
            let commands = (asking ? [RedisCommand("ASKING")] : []) + [command] + (follow.map { [$0] } ?? [])
            let replies = try await node(address).send(commands)
            state.withLock { _ = $0.failing.remove(address) }
            return (replies[asking ? 1 : 0], follow == nil ? nil : replies.last)
        } catch {
            state.withLock { _ = $0.failing.insert(address) }
            if refreshOnFailure { refreshSoon() }
            throw error
        }
    }

    /// Sends `command` to one master, whatever its slots (SCRIPT LOAD, the readiness check).
    func send(_ command: RedisCommand, to address: ClusterTopology.Node) async throws -> RESPValue {
        try await exchange(command, with: address)
    }

    /// Every master of the current slot map with its slots, in slot order, and the slots
    /// no master serves. A hole starts a refresh: this client cannot route those keys.
    func masters() async throws(RedisClientError) -> (masters: [Master], uncovered: [ClosedRange<Int>]) {
        try await ensureTopology()
        let runs = state.withLock { $0.topology.slotRuns() }
        var masters: [Master] = []
        var uncovered: [ClosedRange<Int>] = []
        for run in runs {
            guard let owner = run.owner else {
                uncovered.append(run.slots)
                continue
            }
            if let index = masters.firstIndex(where: { $0.node == owner }) {
                masters[index].slots.append(run.slots)
            } else {
                masters.append(Master(node: owner, slots: [run.slots]))
            }
        }
        if !uncovered.isEmpty { refreshSoon() }
        return (masters, uncovered)
    }

    /// Sends `command` to the node that owns `key` (any master without one), following
    /// redirects. Returns the raw reply; an error reply after too many redirects stays one.
    ///
    /// With `script` (an EVALSHA of it), NOSCRIPT loads the script on the node that
    /// answered, once, and sends the command there again, with ASKING when it got there by
    /// ASK: after ASK that node is not the slot's owner in the map, so loading by key would
    /// load it on the node that has it, and EVALSHA would get NOSCRIPT again.
    func send(_ command: RedisCommand, key: [UInt8]?, script: RedisScript? = nil) async throws -> RESPValue {
        try await send(command, key: key, script: script, then: nil).0
    }

    /// The same, with `follow` (WAIT) right after `command` on the connection that finally
    /// runs it; the replies of both. After a redirect the pair is sent again to the new
    /// node, so `follow` always comes after the command's own run.
    func send(_ command: RedisCommand, key: [UInt8]?, script: RedisScript?, then follow: RedisCommand?) async throws -> (RESPValue, RESPValue?) {
        try await ensureTopology()
        let slot = key.map { ClusterKeySlot.slot(for: $0) }
        var target = state.withLock { state in
            slot.flatMap { state.topology.owner(of: $0) } ?? state.topology.nodes.first
        }
        var asking = false
        var redirects = 0
        var scriptLoaded = false
        while true {
            guard let address = target else {
                refreshSoon()
                throw RedisClientError(.connection, "no cluster node serves slot \(slot.map(String.init) ?? "-")")
            }
            let (reply, followed) = try await exchange(command, then: follow, with: address, asking: asking)
            guard case .error(let message) = reply else { return (reply, followed) }
            if let script, !scriptLoaded, message.hasPrefix("NOSCRIPT") {
                if let failed = try await load(script, on: address) { return (failed, nil) }
                scriptLoaded = true
                continue
            }
            guard let redirect = ClusterRedirect(RedisClientError(.server, message)), redirects < Self.maximumRedirects else {
                return (reply, followed)
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
                try await Task.sleep(for: .milliseconds(10 << redirects))
                asking = false
                target = state.withLock { state in slot.flatMap { state.topology.owner(of: $0) } ?? target }
            }
            redirects += 1
        }
    }

    /// SCRIPT LOAD on one node (keyless: no ASKING needed). Returns Redis's error reply,
    /// if any, for the caller to pass on.
    private func load(_ script: RedisScript, on address: ClusterTopology.Node) async throws -> RESPValue? {
        let reply = try await exchange(RedisCommand("SCRIPT", "LOAD", .string(script.source)), with: address)
        if case .error = reply { return reply }
        guard reply.string == script.sha1 else {
            throw RedisClientError(.protocol, "SCRIPT LOAD returned another SHA1 than the script's")
        }
        return nil
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

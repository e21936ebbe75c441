import PaymentCore
import RedisClient

/// Redlock over N independent Redis nodes (`REDLOCK_URLS`, N odd, at least 3).
///
/// A lock is held when a majority of nodes granted it and time is left: validity =
/// ttl − time taken to ask − drift (1% of the ttl + 2 ms for clocks that run at slightly
/// different rates). Every node is asked in parallel, each within its client's command
/// timeout, which the server sets far below the lease. A failed attempt is undone on
/// every node at once, so it blocks nobody until its TTL.
public struct Redlock: KeyLock {
    public let nodes: [RedisClient]
    public let keys: PaymentKeys
    /// Attempts per `acquire` when the votes split without a majority either way.
    public let attempts: Int
    /// The pause before another attempt is random in [0, retryJitter], so that two
    /// contenders which split the votes do not collide again in lock step.
    public let retryJitter: Duration

    public var quorum: Int { nodes.count / 2 + 1 }

    public init(nodes: [RedisClient], keys: PaymentKeys = PaymentKeys(), attempts: Int = 3, retryJitter: Duration = .milliseconds(50)) {
        precondition(nodes.count >= 3 && nodes.count % 2 == 1, "Redlock needs an odd number of nodes, at least 3")
        self.nodes = nodes
        self.keys = keys
        self.attempts = max(attempts, 1)
        self.retryJitter = retryJitter
    }

    /// The clock drift allowed between this process and the nodes.
    public static func drift(ttl: Duration) -> Duration {
        ttl / 100 + .milliseconds(2)
    }

    /// How long a lock granted `elapsed` after asking may be assumed held.
    public static func validity(ttl: Duration, elapsed: Duration) -> Duration {
        ttl - elapsed - drift(ttl: ttl)
    }

    public func acquire(_ request: PaymentRequest, owner: String, ttl: Duration) async -> KeyLockAcquisition {
        await acquire(keys.lock(request), owner: owner, ttl: ttl)
    }

    public func extend(_ request: PaymentRequest, owner: String, ttl: Duration) async -> Duration? {
        await extend(keys.lock(request), owner: owner, ttl: ttl)
    }

    public func release(_ request: PaymentRequest, owner: String) async {
        await release(keys.lock(request), owner: owner)
    }

    /// One node's answer to an acquire.
    enum Vote: Sendable, Hashable {
        case granted
        case held(remainingMilliseconds: Int)
        case failed(String)
    }

    public func acquire(_ resource: String, owner: String, ttl: Duration) async -> KeyLockAcquisition {
        var outcome = KeyLockAcquisition.unavailable("no attempt made")
        for attempt in 0..<attempts {
            if attempt > 0 {
                try? await Task.sleep(for: retryJitter * Double.random(in: 0...1))
            }
            let start = ContinuousClock.now
            let votes = await onEveryNode { node -> Vote in
                do throws(RedisClientError) {
                    let reply = try await node.evaluate(
                        RedlockScripts.acquire, keys: [.string(resource)], arguments: [.string(owner), .integer(ttl.milliseconds)]
                    )
                    guard let remaining = reply.int else { return .failed("acquire answered \(reply)") }
                    return remaining == 0 ? .granted : .held(remainingMilliseconds: remaining)
                } catch {
                    return .failed(error.message)
                }
            }
            let validity = Self.validity(ttl: ttl, elapsed: .now - start)
            let granted = votes.count(where: { $0 == .granted })
            if granted >= quorum && validity > .zero {
                return .acquired(validity: validity)
            }
            await release(resource, owner: owner)

            let held = votes.compactMap { vote -> Int? in
                if case .held(let remaining) = vote { remaining } else { nil }
            }
            let failures = votes.compactMap { vote -> String? in
                if case .failed(let message) = vote { message } else { nil }
            }
            if held.count >= quorum {
                // Another owner has a majority: it is really held, asking again won't help.
                return .held(retryAfterMilliseconds: held.min() ?? 1)
            }
            if nodes.count - failures.count < quorum {
                // Not enough nodes answer: fail closed at once rather than wait through retries.
                return .unavailable(
                    "\(nodes.count - failures.count) of \(nodes.count) lock nodes answered, \(quorum) needed: \(failures[0])"
                )
            }
            // Split votes, or a majority that came too late to leave any validity.
            outcome = held.isEmpty
                ? .unavailable("lock nodes answered too slowly for a \(ttl.milliseconds) ms lease")
                : .held(retryAfterMilliseconds: held.min() ?? 1)
        }
        return outcome
    }

    public func extend(_ resource: String, owner: String, ttl: Duration) async -> Duration? {
        let start = ContinuousClock.now
        let extended = await onEveryNode { node -> Bool in
            let reply = try? await node.evaluate(
                RedlockScripts.extend, keys: [.string(resource)], arguments: [.string(owner), .integer(ttl.milliseconds)]
            )
            return reply?.int == 1
        }
        let validity = Self.validity(ttl: ttl, elapsed: .now - start)
        guard extended.count(where: { $0 }) >= quorum, validity > .zero else { return nil }
        return validity
    }

    public func release(_ resource: String, owner: String) async {
        // Best effort: a node that misses the release frees the lock at its TTL.
        _ = await onEveryNode { node in
            _ = try? await node.evaluate(RedlockScripts.release, keys: [.string(resource)], arguments: [.string(owner)])
        }
    }

    /// Nil when a majority of nodes answers and has the lock scripts (loading them where
    /// missing); otherwise why not, for `/readyz`.
    public func quorumProblem() async -> String? {
        let failures = await onEveryNode { node -> String? in
            do throws(RedisClientError) {
                try await PaymentScripts.ensureLoaded(RedlockScripts.all, on: node)
                return nil
            } catch {
                return "\(node.configuration.url.host):\(node.configuration.url.port): \(error.message)"
            }
        }.compactMap { $0 }
        let answering = nodes.count - failures.count
        guard answering < quorum else { return nil }
        return "redlock: \(answering) of \(nodes.count) lock nodes answer, \(quorum) needed (\(failures.joined(separator: "; ")))"
    }

    /// Runs `body` on every node in parallel; results in node order.
    private func onEveryNode<T: Sendable>(_ body: @escaping @Sendable (RedisClient) async -> T) async -> [T] {
        await withTaskGroup(of: (Int, T).self) { group in
            for (index, node) in nodes.enumerated() {
                group.addTask { (index, await body(node)) }
            }
            var results = [T?](repeating: nil, count: nodes.count)
            for await (index, result) in group { results[index] = result }
            return results.compactMap { $0 }
        }
    }
}

import Logging
import Metrics
import PaymentRedis
import ServiceLifecycle
import Synchronization

/// Whether this replica should get traffic: Redis can serve (see `RedisVerdict.judge` for
/// what that means on a cluster) and the scripts are loaded, and no shutdown has begun.
public final class Readiness: Sendable {
    public struct State: Sendable, Hashable {
        public var isReady: Bool
        /// Why not ready; while ready, what is degraded (cluster masters that do not
        /// serve, so their users get 503); nil when all is well.
        public var reason: String?
    }

    private let redis = Mutex(RedisVerdict.unchecked)
    private let draining = Atomic<Bool>(false)

    public init() {}

    public var state: State {
        if draining.load(ordering: .relaxed) { return State(isReady: false, reason: "shutting down") }
        let verdict = redis.withLock { $0 }
        return State(isReady: verdict.problem == nil, reason: verdict.problem ?? verdict.degraded)
    }

    /// Records the latest Redis check; returns the one before, so the caller can log the
    /// moments worth a line.
    func redisChecked(_ verdict: RedisVerdict) -> RedisVerdict {
        redis.withLock { current in
            defer { current = verdict }
            return current
        }
    }

    /// From now on readiness is 503, whatever Redis does.
    public func startDraining() {
        draining.store(true, ordering: .relaxed)
    }
}

/// Runs the readiness check (`RedisReadinessCheck`: Redis answers, scripts loaded, slot
/// map whole, replicas in sync, Redlock quorum) every second while ready, every 250 ms
/// while not, so a replica is back in rotation soon after Redis returns. A master that
/// fails the check also starts a refresh of the client's slot map (rate-limited in the
/// client), so a promoted replica is used within about a second, not at the next 10 s
/// refresh.
struct ReadinessMonitor: Service {
    let check: RedisReadinessCheck
    /// `payment_replicas_in_sync`: 1 while every master has the replicas required (always
    /// 1 when none are), 0 while payments are refused for want of them.
    let replicasInSync: Gauge
    let readiness: Readiness
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let verdict = await check.check()
                if let inSync = verdict.replicasInSync { replicasInSync.record(inSync ? 1 : 0) }
                log(verdict, after: readiness.redisChecked(verdict))
                try? await Task.sleep(for: verdict.problem == nil ? .seconds(1) : .milliseconds(250))
            }
        }
    }

    /// A line when readiness flips and when the set of masters that do not serve changes;
    /// not on every check, and not when only an error's wording changes.
    private func log(_ verdict: RedisVerdict, after previous: RedisVerdict) {
        if previous == .unchecked || (previous.problem == nil) != (verdict.problem == nil) {
            if let problem = verdict.problem {
                logger.warning("redis check failed: not ready", metadata: ["error": "\(problem)"])
            } else {
                logger.info("redis answers and scripts are loaded")
            }
        }
        if verdict.unavailableMasters != previous.unavailableMasters {
            if let degraded = verdict.degraded {
                logger.warning("redis cluster degraded: still ready", metadata: [
                    "masters": "\(verdict.unavailableMasters.joined(separator: ","))", "reason": "\(degraded)",
                ])
            } else if verdict.problem == nil, !previous.unavailableMasters.isEmpty {
                logger.info("redis cluster: every master serves again")
            }
        }
    }
}

/// The last service of the group, so the first to hear of a graceful shutdown: readiness
/// goes 503 at once, and the server keeps serving for the drain period while load
/// balancers stop sending traffic. Then the server stops and Redis closes.
public struct ShutdownDrain: Service {
    let readiness: Readiness
    let drain: Duration
    let logger: Logger

    public init(readiness: Readiness, drain: Duration, logger: Logger) {
        self.readiness = readiness
        self.drain = drain
        self.logger = logger
    }

    public func run() async throws {
        try? await gracefulShutdown()
        readiness.startDraining()
        logger.info("shutdown: readiness is 503, draining", metadata: ["drain_seconds": "\(drain.components.seconds)"])
        // Not cancellable by the group's shutdown: the drain is the point.
        try? await Task.sleep(for: drain)
    }
}

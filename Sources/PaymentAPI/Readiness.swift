import Logging
import PaymentRedis
import RedisClient
import ServiceLifecycle
import Synchronization

/// Whether this replica should get traffic: Redis answers and the scripts are loaded,
/// and no shutdown has begun.
public final class Readiness: Sendable {
    public struct State: Sendable, Hashable {
        public var isReady: Bool { reason == nil }
        /// Why not ready; nil when ready.
        public var reason: String?
    }

    private static let unchecked = "redis has not been checked yet"
    private let redisProblem = Mutex<String?>(unchecked)
    private let draining = Atomic<Bool>(false)

    public init() {}

    public var state: State {
        if draining.load(ordering: .relaxed) { return State(reason: "shutting down") }
        return State(reason: redisProblem.withLock { $0 })
    }

    /// Records the latest Redis check; returns true for the first check and when Redis
    /// went from failing to answering or back: the moments worth a log line.
    func redisChecked(problem: String?) -> Bool {
        redisProblem.withLock { current in
            defer { current = problem }
            return current == Self.unchecked || (current == nil) != (problem == nil)
        }
    }

    /// From now on readiness is 503, whatever Redis does.
    public func startDraining() {
        draining.store(true, ordering: .relaxed)
    }
}

/// Checks Redis and loads missing scripts, and in Redlock mode that a majority of lock
/// nodes answers: every second while ready, every 250 ms while not, so a replica is back
/// in rotation soon after Redis returns.
struct ReadinessMonitor: Service {
    let redis: RedisClient
    let redlock: Redlock?
    let readiness: Readiness
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let problem = await check()
                if readiness.redisChecked(problem: problem) {
                    if let problem {
                        logger.warning("redis check failed: not ready", metadata: ["error": "\(problem)"])
                    } else {
                        logger.info("redis answers and scripts are loaded")
                    }
                }
                try? await Task.sleep(for: problem == nil ? .seconds(1) : .milliseconds(250))
            }
        }
    }
}

extension ReadinessMonitor {
    /// Why this replica cannot serve payments now; nil when it can.
    func check() async -> String? {
        do throws(RedisClientError) {
            try await PaymentScripts.ensureLoaded(on: redis)
        } catch {
            return "redis: \(error.message)"
        }
        return await redlock?.quorumProblem()
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

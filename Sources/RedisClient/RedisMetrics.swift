import Metrics
import Synchronization

/// The client's metric handles, created once and reused: a lookup per command would
/// cost more than the command's own bookkeeping.
final class RedisMetrics: Sendable {
    static let durationLabel = "redis_command_duration_seconds"
    static let errorsLabel = "redis_errors_total"

    private let factory: any MetricsFactory
    private let durations = Mutex<[String: Metrics.Timer]>([:])
    private let errors: [RedisClientError.Kind: Counter]

    init(factory: any MetricsFactory) {
        self.factory = factory
        var errors: [RedisClientError.Kind: Counter] = [:]
        for kind in RedisClientError.Kind.allCases {
            errors[kind] = Counter(label: Self.errorsLabel, dimensions: [("kind", kind.rawValue)], factory: factory)
        }
        self.errors = errors
    }

    func recordDuration(_ duration: Duration, command: String) {
        let timer = durations.withLock { timers in
            if let timer = timers[command] { return timer }
            let timer = Metrics.Timer(label: Self.durationLabel, dimensions: [("command", command)], factory: factory)
            timers[command] = timer
            return timer
        }
        timer.record(duration: duration)
    }

    func recordError(_ kind: RedisClientError.Kind) {
        errors[kind]?.increment()
    }
}

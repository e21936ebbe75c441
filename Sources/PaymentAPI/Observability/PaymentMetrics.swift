import Metrics
import PaymentCore

/// The server's metric handles, made once from the application's factory. Names are the
/// contract of DESIGN.md; dashboards and alerts depend on them.
public struct PaymentMetrics: Sendable {
    public static let version = "0.1.0"

    private let factory: any MetricsFactory
    private let outcomes: [String: Counter]
    private let processorFailures: Counter
    private let replays: Counter
    private let lockConflicts: Counter
    private let userRateLimited: Counter
    private let globalRateLimited: Counter
    let inflight: Meter

    static let outcomeLabels = [
        "succeeded", "replayed", "declined", "in_flight", "fingerprint_mismatch", "rate_limited", "processor_failed",
        "lease_lost", "unavailable", "outcome_unknown", "replicas_missing", "invalid",
    ]

    public init(factory: any MetricsFactory) {
        self.factory = factory
        var outcomes: [String: Counter] = [:]
        for label in Self.outcomeLabels {
            outcomes[label] = Counter(label: "payment_requests_total", dimensions: [("outcome", label)], factory: factory)
        }
        self.outcomes = outcomes
        // The original service's counter, kept for its dashboards: simulated processor failures.
        processorFailures = Counter(label: "payment_requests_failed", factory: factory)
        replays = Counter(label: "payment_idempotent_replays_total", factory: factory)
        lockConflicts = Counter(label: "payment_lock_conflicts_total", factory: factory)
        userRateLimited = Counter(label: "rate_limit_rejections_total", dimensions: [("scope", "user")], factory: factory)
        globalRateLimited = Counter(label: "rate_limit_rejections_total", dimensions: [("scope", "global")], factory: factory)
        inflight = Meter(label: "http_inflight_requests", factory: factory)
        Gauge(label: "payment_build_info", dimensions: [("version", Self.version)], factory: factory).record(1)
    }

    func record(_ outcome: PaymentOutcome) {
        outcomes[outcome.label]?.increment()
        switch outcome {
        case .processorFailed: processorFailures.increment()
        case .replayed: replays.increment()
        case .inFlight: lockConflicts.increment()
        case .rateLimited(let status, _):
            (status.policy.name == "global" ? globalRateLimited : userRateLimited).increment()
        default: break
        }
    }

    func recordInvalid() {
        outcomes["invalid"]?.increment()
    }

    /// A duration histogram per route; handles are cached by the caller's middleware.
    func requestDuration(method: String, route: String, status: Int) -> Metrics.Timer {
        Metrics.Timer(
            label: "http_server_request_duration_seconds",
            dimensions: [("method", method), ("route", route), ("status", String(status))],
            factory: factory
        )
    }
}

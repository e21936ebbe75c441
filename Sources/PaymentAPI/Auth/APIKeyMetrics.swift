import Metrics

/// The key file's health, for the alerts of the chart's PrometheusRule (names are
/// DESIGN.md's contract). Beside the file they describe, not in `PaymentMetrics`: they
/// exist only when authentication is on, so a server without keys exports none and its
/// key alerts stay silent.
struct APIKeyMetrics: Sendable {
    enum Failure: String, Sendable, CaseIterable {
        /// The file is there but does not parse: the surviving old keys stay in force.
        case invalid
        /// The file cannot be read: the last keys stay in force for `API_KEYS_STALE_SECONDS`.
        case unreadable
    }

    private let failures: [Failure: Counter]
    private let fileValid: Gauge
    private let active: Gauge

    init(factory: any MetricsFactory) {
        // Both reasons exported from the start, at 0: rate() needs a series before the first failure.
        var failures: [Failure: Counter] = [:]
        for reason in Failure.allCases {
            failures[reason] = Counter(label: "api_keys_reload_failures_total", dimensions: [("reason", reason.rawValue)], factory: factory)
        }
        self.failures = failures
        fileValid = Gauge(label: "api_keys_file_valid", factory: factory)
        active = Gauge(label: "api_keys_active", factory: factory)
    }

    /// One poll that found the file broken: counted on every poll it stays broken, so the
    /// counter grows for as long as the keys in force are not the file's.
    func record(_ failure: Failure) {
        failures[failure]?.increment()
    }

    /// The state after a poll: whether the file parsed, and how many keys are accepted (0
    /// while every key is refused).
    func record(fileValid valid: Bool, activeKeys: Int) {
        fileValid.record(valid ? 1 : 0)
        active.record(activeKeys)
    }
}

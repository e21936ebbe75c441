import Metrics
import PaymentCore

/// `processor_requests_total{outcome}` and `processor_request_duration_seconds{outcome}`
/// for the HTTP processor; handles made once per outcome.
struct ProcessorMetrics: Sendable {
    /// The answer's kind (ProcessorReply.Kind), or a lookup's.
    typealias Outcome = ProcessorReply.Kind

    private let requests: [Outcome: Counter]
    private let durations: [Outcome: Metrics.Timer]

    init(factory: any MetricsFactory) {
        var requests: [Outcome: Counter] = [:]
        var durations: [Outcome: Metrics.Timer] = [:]
        for outcome in Outcome.allCases {
            requests[outcome] = Counter(label: "processor_requests_total", dimensions: [("outcome", outcome.rawValue)], factory: factory)
            durations[outcome] = Metrics.Timer(
                label: "processor_request_duration_seconds", dimensions: [("outcome", outcome.rawValue)], factory: factory
            )
        }
        self.requests = requests
        self.durations = durations
    }

    func record(_ outcome: Outcome, duration: Duration) {
        requests[outcome]?.increment()
        durations[outcome]?.record(duration: duration)
    }
}


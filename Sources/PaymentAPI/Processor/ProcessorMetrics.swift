import Metrics

/// `processor_requests_total{outcome}` and `processor_request_duration_seconds{outcome}`
/// for the HTTP processor; handles made once per outcome.
struct ProcessorMetrics: Sendable {
    enum Outcome: String, CaseIterable, Sendable {
        /// 2xx: charged.
        case charged
        /// 402.
        case declined
        /// 409: still working on the key.
        case busy
        /// Another 4xx: refused, nothing charged.
        case refused
        /// 5xx: may have charged.
        case serverError = "server_error"
        /// No answer within PROCESSOR_TIMEOUT_MS: may have charged.
        case timeout
        /// Connect failed or the connection was dropped: may have charged.
        case connectionError = "connection_error"
        /// 2xx or 402 with a body that is not the contract's.
        case invalidResponse = "invalid_response"
    }

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


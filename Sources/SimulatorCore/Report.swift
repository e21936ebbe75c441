import PaymentCore

/// The numbers of a run: what the text table and the JSON report show.
public struct Report: Sendable {
    public static let timelineBucketMs = 100

    public let runID: String
    public let paymentsTotal: Int
    public let attemptsTotal: Int
    public let retries: Int
    /// 200s answered from a stored response (`Idempotent-Replayed: true`).
    public let replays: Int
    public let retryCauses: [String: Int]
    public let durationMs: Double
    public let statusCounts: [String: Int]
    /// Attempts per logical payment copy → how many copies needed that many.
    public let attemptsHistogram: [Int: Int]
    public let latency: (p50: Double, p90: Double, p99: Double, max: Double)
    public let confirmed: Int
    public let unconfirmed: Int
    public let rejected: Int
    /// Payments the processor declined (402): final answers, not failures of the run.
    public let declined: Int
    public let declineCodes: [String: Int]
    /// Attempts answered 503 `/problems/outcome-unknown` (retried with the same key).
    public let outcomeUnknown: Int
    /// Payments whose client sent the same key with another amount after an
    /// outcome-unknown, and of those, the ones answered 422 (all of them, or the run fails).
    public let amountChangedAfterUnknown: Int
    public let amountChangeRefused: Int
    /// Payments whose client gave up after an outcome-unknown (no copy got a 200, 402 or
    /// rejection): neither confirmed nor unconfirmed, checked against ledger and processor.
    public let abandonedAfterUnknown: Int
    /// Answers 500 `/problems/processor-failed` ("nothing was charged") to requests sent
    /// after an outcome-unknown of the same payment.
    public let processorFailedAfterUnknown: Int
    public let unconfirmedReasons: [String: Int]
    /// Requests started in each 100 ms bucket, first attempts and retries apart.
    public let timelineFirst: [Int]
    public let timelineRetries: [Int]
    public let verification: Verification

    public var requestsPerSecond: Double { durationMs > 0 ? Double(attemptsTotal) / (durationMs / 1000) : 0 }
    /// Attempts per logical payment: 1 + retries and duplicates.
    public var retryAmplification: Double { paymentsTotal > 0 ? Double(attemptsTotal) / Double(paymentsTotal) : 0 }

    public init(run: RunResult, settings: SimulatorSettings, verification: Verification) {
        runID = settings.runID
        paymentsTotal = run.plan.count
        attemptsTotal = run.attempts.count
        retries = run.attempts.filter(\.isRetry).count
        replays = run.attempts.filter(\.replayed).count
        retryCauses = run.retryCauses
        durationMs = run.duration.totalMilliseconds
        statusCounts = run.attempts.reduce(into: [:]) { $0[$1.outcome, default: 0] += 1 }
        confirmed = run.outcomes.filter { $0 == .confirmed }.count
        rejected = run.outcomes.filter { if case .rejected = $0 { true } else { false } }.count
        declineCodes = run.outcomes.reduce(into: [:]) { counts, outcome in
            if case .declined(let code) = outcome { counts[code ?? "none", default: 0] += 1 }
        }
        declined = declineCodes.values.reduce(0, +)
        outcomeUnknown = run.attempts.filter(\.outcomeUnknown).count
        let amountChanges = run.afterUnknown.compactMap(\.amountChange)
        amountChangedAfterUnknown = amountChanges.count
        amountChangeRefused = amountChanges.filter(\.refused).count
        abandonedAfterUnknown = run.outcomes.filter { $0 == .abandoned }.count
        processorFailedAfterUnknown = run.afterUnknown.map(\.processorFailed).reduce(0, +)
        unconfirmed = paymentsTotal - confirmed - rejected - declined - abandonedAfterUnknown
        unconfirmedReasons = run.outcomes.reduce(into: [:]) { counts, outcome in
            if case .unconfirmed(let reason) = outcome { counts[reason, default: 0] += 1 }
        }

        attemptsHistogram = run.copyAttempts.reduce(into: [:]) { $0[$1, default: 0] += 1 }

        let percentiles = LatencyPercentiles(run.attempts.map(\.latencyMs))
        latency = (percentiles.p50, percentiles.p90, percentiles.p99, percentiles.max)

        let buckets = Int(durationMs) / Self.timelineBucketMs + 1
        var first = [Int](repeating: 0, count: buckets)
        var again = [Int](repeating: 0, count: buckets)
        for record in run.attempts {
            let bucket = min(buckets - 1, Int(record.startMs) / Self.timelineBucketMs)
            if record.isRetry { again[bucket] += 1 } else { first[bucket] += 1 }
        }
        timelineFirst = first
        timelineRetries = again
        self.verification = verification
    }
}

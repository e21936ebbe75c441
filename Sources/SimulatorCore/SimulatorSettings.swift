/// Everything one run needs; the CLI fills it from flags and `SIM_*` variables.
public struct SimulatorSettings: Sendable {
    public var targets: [String]
    /// Logical payments worked on at once; each sends `duplicates` copies together.
    public var clients = 50
    public var payments = 1_000
    public var users = 100
    public var duplicates = 1
    public var amountRangeMinor: ClosedRange<Int64> = 100...10_000
    public var seed: UInt64 = 1
    public var runID = "sim"
    public var maxAttempts = 8
    public var backoff = Backoff(base: .milliseconds(50), maximum: .seconds(2), jitter: .full)
    public var honourRetryAfter = true
    public var attemptTimeout: Duration = .seconds(5)
    /// nil disables the retry budget.
    public var retryBudget: RetryBudgetSettings? = RetryBudgetSettings()
    /// After this, no new payment starts and no retry is sent; nil for no limit.
    public var durationLimit: Duration?
    public var readyTimeout: Duration = .seconds(30)
    /// The path polled until it answers 200 before the run (`--ready-path`): `/readyz`
    /// for payment-api; `/healthz` for a server without one (the Go peer in `make bench`).
    public var readyPath = "/readyz"
    public var verify = true
    /// Base URL of the processor (double) whose `GET /charges` verification also checks;
    /// nil: the ledger only.
    public var processorURL: String?
    public var maxUnconfirmed = 0
    /// `--change-amount-after-unknown-rate`: the share of payments whose client, after a
    /// 503 `/problems/outcome-unknown`, sends one retry with the same key and another
    /// amount (which must be refused with 422), then goes on with the original amount.
    public var changeAmountAfterUnknownRate = 0.0
    /// `--abandon-after-unknown-rate`: the share of payments whose client gives up after
    /// a 503 `/problems/outcome-unknown` and never retries; the server's reconciler
    /// settles them, and verification checks them against the ledger and the processor.
    public var abandonAfterUnknownRate = 0.0
    /// `--reconcile-wait-seconds`: before verifying, poll (every `reconcilePollInterval`)
    /// until nothing is charged at the processor but absent from our ledger and no
    /// ledger lists a payment still unknown, for at most this long; zero: verify at once.
    public var reconcileWait: Duration = .zero
    public var reconcilePollInterval: Duration = .seconds(1)

    public init(targets: [String]) {
        self.targets = targets
    }
}

public struct RetryBudgetSettings: Sendable, Hashable {
    public var maxTokens: Double = 100
    /// Tokens a success gives back. 1 means retries stop only while failures outnumber
    /// successes; gRPC's 0.1 would stop them at 10% failures, below this demo's 30%.
    public var tokenRatio: Double = 1

    public init(maxTokens: Double = 100, tokenRatio: Double = 1) {
        self.maxTokens = maxTokens
        self.tokenRatio = tokenRatio
    }
}

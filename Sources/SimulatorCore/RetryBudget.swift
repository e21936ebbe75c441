import Synchronization

/// gRPC-style retry throttling: a token bucket shared by all clients of a run. Each
/// failed attempt takes a token, each success gives back `tokenRatio`; retries stop while
/// the bucket is at or below half. When failures dominate, clients stop piling retries
/// on a struggling server, and start again as it recovers.
public final class RetryBudget: Sendable {
    public let maxTokens: Double
    public let tokenRatio: Double
    private let tokens: Mutex<Double>

    public init(maxTokens: Double = 100, tokenRatio: Double = 0.1) {
        self.maxTokens = maxTokens
        self.tokenRatio = tokenRatio
        self.tokens = Mutex(maxTokens)
    }

    public func recordSuccess() {
        tokens.withLock { $0 = min(maxTokens, $0 + tokenRatio) }
    }

    public func recordFailure() {
        tokens.withLock { $0 = max(0, $0 - 1) }
    }

    /// Whether a retry may be sent now.
    public var allowsRetry: Bool {
        tokens.withLock { $0 > maxTokens / 2 }
    }

    public var currentTokens: Double { tokens.withLock { $0 } }
}

/// How long to wait before the next attempt: capped exponential back-off with one of the
/// jitter strategies of AWS's "Exponential Backoff and Jitter" article.
public struct Backoff: Sendable, Hashable {
    public enum Jitter: String, Sendable, CaseIterable {
        /// base × 2ⁿ, capped: every client retries in lockstep.
        case none
        /// random(0, base × 2ⁿ): spreads the most, sometimes retries at once.
        case full
        /// half fixed, half random.
        case equal
        /// random(base, previous × 3), capped: grows from the last delay, not the count.
        case decorrelated
    }

    public var base: Duration
    public var maximum: Duration
    public var jitter: Jitter

    public init(base: Duration, maximum: Duration, jitter: Jitter) {
        self.base = base
        self.maximum = maximum
        self.jitter = jitter
    }

    /// The delay before retry number `retry` (1 for the first retry), given the previous
    /// delay (for decorrelated jitter; `base` before the first retry).
    public func delay(retry: Int, previous: Duration, using random: inout some RandomNumberGenerator) -> Duration {
        let baseMs = base.totalMilliseconds
        let capMs = maximum.totalMilliseconds
        let exponential = min(capMs, baseMs * Double(1 << min(max(retry - 1, 0), 30)))
        let milliseconds: Double
        switch jitter {
        case .none:
            milliseconds = exponential
        case .full:
            milliseconds = Double.random(in: 0...exponential, using: &random)
        case .equal:
            milliseconds = exponential / 2 + Double.random(in: 0...(exponential / 2), using: &random)
        case .decorrelated:
            let upper = max(baseMs, previous.totalMilliseconds * 3)
            milliseconds = min(capMs, Double.random(in: baseMs...upper, using: &random))
        }
        return .milliseconds(milliseconds)
    }
}

extension Duration {
    /// Milliseconds with a fraction.
    public var totalMilliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}

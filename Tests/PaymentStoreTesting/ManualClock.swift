import Synchronization

/// A clock that moves only when a test says so, for `InMemoryPaymentStore(clock:)`: leases
/// run out and buckets refill by `advance(by:)`, not by sleeping.
public final class ManualClock: Sendable {
    private let start: ContinuousClock.Instant
    private let elapsed = Mutex(Duration.zero)

    public init() {
        start = ContinuousClock.now
    }

    public var now: ContinuousClock.Instant {
        start + elapsed.withLock { $0 }
    }

    public func advance(by duration: Duration) {
        elapsed.withLock { $0 += duration }
    }
}

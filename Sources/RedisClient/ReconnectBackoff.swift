import NIOCore

/// Capped exponential back-off with "equal jitter": half the delay is fixed so a node
/// is never hammered, half is random so many clients do not reconnect in lockstep.
struct ReconnectBackoff: Sendable {
    var base: TimeAmount
    var maximum: TimeAmount

    /// The delay after `failures` consecutive failed connects (1 for the first).
    /// `random` is a number in 0...1.
    func delay(afterFailures failures: Int, random: Double) -> TimeAmount {
        precondition(failures >= 1)
        let doublings = min(failures - 1, 20)
        let nanoseconds = min(maximum.nanoseconds, base.nanoseconds << doublings)
        let half = nanoseconds / 2
        return .nanoseconds(half + Int64(Double(half) * min(max(random, 0), 1)))
    }
}

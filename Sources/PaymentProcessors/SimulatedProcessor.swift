import NIOCore
import PaymentCore

/// Stands in for a card network: waits `latency`, then fails with probability
/// `failureRate` (the original service's 30%), knowing it charged nothing.
public struct SimulatedProcessor: PaymentProcessor {
    public let failureRate: Double
    public let latency: Duration
    /// Returns a number in 0..<1; injectable so tests decide the outcome.
    private let random: @Sendable () -> Double

    public init(failureRate: Double, latency: Duration, random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.failureRate = failureRate
        self.latency = latency
        self.random = random
    }

    public func charge(_ charge: ProcessorCharge) async -> ProcessorResult {
        if latency > .zero {
            do {
                try await Task.sleep(for: latency)
            } catch {
                return .failed("processing was cancelled")
            }
        }
        return answer()
    }

    /// On the loop: at once, or after `latency` on the loop's timer (no task).
    public func charge(_ charge: ProcessorCharge, on eventLoop: any EventLoop) -> EventLoopFuture<ProcessorResult> {
        guard latency > .zero else { return eventLoop.makeSucceededFuture(answer()) }
        return eventLoop.scheduleTask(in: TimeAmount(latency)) { self.answer() }.futureResult
    }

    /// No random draw at a failure rate of 0 (the default, and every benchmark's): it
    /// could never fail, and a draw costs a `getrandom` call.
    private func answer() -> ProcessorResult {
        if failureRate > 0, random() < failureRate {
            return .failed("simulated transient processor failure")
        }
        return .charged(chargeID: nil)
    }

    public func lookup(processorKey: String) async -> ProcessorLookup {
        .unknown("the simulated processor keeps no record of its charges")
    }
}

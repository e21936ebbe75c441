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
        if random() < failureRate {
            return .failed("simulated transient processor failure")
        }
        return .charged(chargeID: nil)
    }

    /// It keeps no record of its charges, so it cannot say; it never leaves an outcome
    /// unknown either (it fails knowing it charged nothing), so only a lost `complete`
    /// reply asks it, and such a record stays unknown until its client retries.
    public func lookup(processorKey: String) async -> ProcessorLookup {
        .unknown("the simulated processor keeps no record of its charges")
    }
}

/// The payment processor that moves the money. Its work runs while the key's lease is
/// held; `fence` lets a real processor refuse a writer whose lease was taken over.
public protocol PaymentProcessor: Sendable {
    func charge(_ request: PaymentRequest, paymentID: String, fence: Int64) async throws(ProcessorError)
}

/// A failure the processor reports as transient: nothing was charged, a retry may succeed.
public struct ProcessorError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Stands in for a card network: waits `latency`, then fails with probability
/// `failureRate` (the original service's 30%).
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

    public func charge(_ request: PaymentRequest, paymentID: String, fence: Int64) async throws(ProcessorError) {
        if latency > .zero {
            do {
                try await Task.sleep(for: latency)
            } catch {
                throw ProcessorError("processing was cancelled")
            }
        }
        if random() < failureRate {
            throw ProcessorError("simulated transient processor failure")
        }
    }
}

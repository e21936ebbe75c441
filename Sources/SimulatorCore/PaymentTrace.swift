/// The W3C trace context the simulator sends with every attempt (`traceparent`): one
/// trace per logical payment, shared by all its copies and retries, and a new parent
/// span id per attempt, sampled. The simulator exports no spans of its own: the ids
/// join the server's spans of one payment's attempts into one trace.
public struct PaymentTrace: Sendable {
    /// Random, once per run: the trace ids of two runs never meet in one backend.
    let run: UInt64

    public init(run: UInt64 = .random(in: 1...UInt64.max)) {
        self.run = run
    }

    /// The run's 16 hex digits, then the payment's index: never all zeros, which W3C forbids.
    public func traceID(of payment: LogicalPayment) -> String {
        Self.hex(run) + Self.hex(UInt64(payment.index))
    }

    public func traceparent(of payment: LogicalPayment) -> String {
        "00-\(traceID(of: payment))-\(Self.hex(.random(in: 1...UInt64.max)))-01"
    }

    /// 16 lower-case hex digits.
    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

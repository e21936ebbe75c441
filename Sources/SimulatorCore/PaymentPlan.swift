/// One logical payment: what every copy and every retry of it sends.
public struct LogicalPayment: Sendable, Hashable {
    public let index: Int
    public let userID: String
    public let idempotencyKey: String
    public let amountMinor: Int64

    /// The request body; the amount is written from integer cents, never a float.
    public var body: String {
        let cents = amountMinor % 100
        return #"{"user_id":"\#(userID)","amount":\#(amountMinor / 100).\#(cents < 10 ? "0" : "")\#(cents),"currency":"USD","idempotency_key":"\#(idempotencyKey)"}"#
    }
}

/// Builds the run's payments from the seed: the same options and seed give the same
/// users, keys and amounts. The run id prefixes users and keys so runs never mix.
public enum PaymentPlan {
    public static func make(
        runID: String,
        payments: Int,
        users: Int,
        amountRangeMinor: ClosedRange<Int64>,
        seed: UInt64
    ) -> [LogicalPayment] {
        var random = SeededRandom(seed: seed)
        return (0..<payments).map { index in
            LogicalPayment(
                index: index,
                userID: "\(runID)-u\(Int.random(in: 0..<users, using: &random))",
                idempotencyKey: "\(runID)-p\(index)",
                amountMinor: Int64.random(in: amountRangeMinor, using: &random)
            )
        }
    }
}

import PaymentCore

/// One logical payment: what every copy and every retry of it sends.
public struct LogicalPayment: Sendable, Hashable {
    public let index: Int
    public let userID: String
    public let idempotencyKey: String
    /// In the minor units of `currency` (cents, yen, fils).
    public let amountMinor: Int64
    public let currency: Currency

    public init(index: Int, userID: String, idempotencyKey: String, amountMinor: Int64, currency: Currency = .usd) {
        self.index = index
        self.userID = userID
        self.idempotencyKey = idempotencyKey
        self.amountMinor = amountMinor
        self.currency = currency
    }

    /// The request body; the amount is written from integer minor units, never a float.
    public var body: String {
        let amount = Money.format(minorUnits: amountMinor, currency: currency)
        return #"{"user_id":"\#(userID)","amount":\#(amount),"currency":"\#(currency.code)","idempotency_key":"\#(idempotencyKey)"}"#
    }
}

/// Builds the run's payments from the seed: the same options and seed give the same
/// users, keys and amounts. The run id prefixes users and keys so runs never mix.
public enum PaymentPlan {
    /// Payment n is in `currencies[n % 4]`: 2, 2, 0 and 3 minor-unit digits, so a run
    /// checks totals in several currencies and amounts that are not cents. Taken from the
    /// index, not the random generator, so a seed keeps the users and amounts it had.
    public static let currencies: [Currency] = ["USD", "EUR", "JPY", "KWD"].compactMap(Currency.init(code:))

    public static func make(
        runID: String,
        payments: Int,
        users: Int,
        amountRangeMinor: ClosedRange<Int64>,
        seed: UInt64
    ) -> [LogicalPayment] {
        var random = SeededRandom(seed: seed)
        return (0..<payments).map { index in
            let user = Int.random(in: 0..<users, using: &random)
            let amount = Int64.random(in: amountRangeMinor, using: &random)
            let currency = currencies[index % currencies.count]
            return LogicalPayment(
                index: index,
                userID: "\(runID)-u\(user)",
                idempotencyKey: "\(runID)-p\(index)",
                amountMinor: min(amount, maximumMinor(currency)),
                currency: currency
            )
        }
    }

    /// The server's largest amount in `currency`: 100,000,000 minor units are 1,000,000
    /// USD but 100,000,000 JPY, which it refuses; such an amount is lowered to the largest.
    static func maximumMinor(_ currency: Currency) -> Int64 {
        (0..<currency.minorUnitDigits).reduce(Money.maximumMajorUnits) { value, _ in value * 10 }
    }
}

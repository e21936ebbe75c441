import PaymentCore

/// Compares what the ledger says was charged with what the run saw confirmed.
///
/// Per user: `confirmed` payments got a 200, `sent` payments were sent at all. A ledger
/// count below `confirmed` means a confirmed payment is missing (lost); above `sent`
/// means some key was charged twice (double charge). Unconfirmed payments may or may
/// not have been charged (their 200 may have been lost in transit), so when a user has
/// none, count and total must match the confirmed ones exactly.
public struct Verification: Sendable, Hashable {
    public var performed: Bool
    public var doubleCharged = 0
    public var lost = 0
    public var unconfirmed = 0
    /// One line per problem, naming the user and the numbers.
    public var problems: [String] = []

    public var exactlyOnce: Bool { performed && doubleCharged == 0 && lost == 0 && problems.isEmpty }

    public static func skipped(unconfirmed: Int) -> Verification {
        Verification(performed: false, unconfirmed: unconfirmed)
    }

    public static func verify(_ run: RunResult, ledgerTarget: String, transport: any SimulatorTransport) async -> Verification {
        struct Expected {
            var sent = 0
            var confirmed = 0
            var confirmedMinor: Int64 = 0
            var unconfirmed = 0
        }
        var byUser: [String: Expected] = [:]
        for (payment, outcome) in zip(run.plan, run.outcomes) {
            var expected = byUser[payment.userID, default: Expected()]
            if outcome.wasSent { expected.sent += 1 }
            switch outcome {
            case .confirmed:
                expected.confirmed += 1
                expected.confirmedMinor += payment.amountMinor
            case .unconfirmed:
                expected.unconfirmed += 1
            case .rejected:
                break
            }
            byUser[payment.userID] = expected
        }

        var verification = Verification(performed: true)
        verification.unconfirmed = byUser.values.reduce(0) { $0 + $1.unconfirmed }
        for (user, expected) in byUser.sorted(by: { $0.key < $1.key }) {
            guard let ledger = await readLedger(user: user, target: ledgerTarget, transport: transport) else {
                verification.problems.append("user \(user): the ledger could not be read")
                continue
            }
            if ledger.count < expected.confirmed {
                let missing = expected.confirmed - ledger.count
                verification.lost += missing
                verification.problems.append("user \(user): \(expected.confirmed) payments confirmed with 200 but the ledger has \(ledger.count) (\(missing) lost)")
            }
            if ledger.count > expected.sent {
                let extra = ledger.count - expected.sent
                verification.doubleCharged += extra
                verification.problems.append("user \(user): \(ledger.count) charges for \(expected.sent) idempotency keys (\(extra) double charged)")
            }
            if expected.unconfirmed == 0, ledger.count == expected.confirmed, ledger.usd != expected.confirmedMinor {
                verification.problems.append("user \(user): ledger total \(ledger.usd) minor units, confirmed payments sum to \(expected.confirmedMinor)")
            }
        }
        return verification
    }

    private static func readLedger(user: String, target: String, transport: any SimulatorTransport) async -> (count: Int, usd: Int64)? {
        for attempt in 0..<5 {
            if attempt > 0 { try? await Task.sleep(for: .milliseconds(200 * attempt)) }
            guard let result = try? await transport.get("\(target)/ledger/\(user)", timeout: .seconds(5)), result.status == 200,
                  case .object(let fields)? = try? JSONParser.parse(result.body)
            else { continue }
            let count = fields.first(where: { $0.key == "payments" })?.value
            let totals = fields.first(where: { $0.key == "totals" })?.value
            guard case .number(let countText)? = count, let payments = Int(countText) else { continue }
            var usd: Int64 = 0
            if case .object(let currencies)? = totals,
               case .number(let text)? = currencies.first(where: { $0.key == "USD" })?.value {
                usd = Int64(text) ?? -1
            }
            return (payments, usd)
        }
        return nil
    }
}

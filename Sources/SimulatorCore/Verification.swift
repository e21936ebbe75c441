import PaymentCore

/// Checks, key by key, what each user's ledger charged against what the run sent and
/// saw. Counts alone would let a double charge of one key hide a lost payment of another.
///
/// For every key of the plan: confirmed (a 200) → exactly one charge; unconfirmed but
/// sent → none or one (its 200 may have been lost on the way back); declined (402),
/// rejected or never sent → none. Every charge has the key's amount and currency; no charge has a key the
/// run did not send; the ledger's totals, in every currency, are the sums of its
/// charges, and its count is their number.
public struct Verification: Sendable, Hashable {
    public var performed: Bool
    /// Charges of a key beyond its first.
    public var doubleCharged = 0
    /// Confirmed keys without a charge.
    public var lost = 0
    public var unconfirmed = 0
    /// Charges whose amount or currency is not what the run sent with their key.
    public var wrongAmountOrCurrency = 0
    /// Charges of keys that must have none: rejected, never sent, or not the run's.
    public var unexpectedCharges = 0
    /// One line per problem, naming the user, the key and what differed.
    public var problems: [String] = []
    /// The processor's side (`--processor-url`); nil when it was not asked for.
    public var processor: ProcessorVerification?

    /// Keeps the report bounded when a broken server fails every key.
    public static let maximumProblems = 1_000

    public var exactlyOnce: Bool {
        ledgerExactlyOnce && (processor?.passed ?? true)
    }

    /// The ledger's side alone, whatever the processor says.
    public var ledgerExactlyOnce: Bool {
        performed && doubleCharged == 0 && lost == 0 && wrongAmountOrCurrency == 0 && unexpectedCharges == 0 && problems.isEmpty
    }

    public static func skipped(unconfirmed: Int) -> Verification {
        Verification(performed: false, unconfirmed: unconfirmed)
    }

    /// `processorURL`: also read `GET {processorURL}/charges` and check it against the
    /// ledgers and the run (ProcessorVerification), after every ledger was read.
    public static func verify(_ run: RunResult, ledgerTarget: String, processorURL: String? = nil, transport: any SimulatorTransport) async -> Verification {
        var byUser: [String: [(payment: LogicalPayment, outcome: CopyOutcome)]] = [:]
        for (payment, outcome) in zip(run.plan, run.outcomes) {
            byUser[payment.userID, default: []].append((payment, outcome))
        }
        var verification = Verification(performed: true)
        verification.unconfirmed = run.outcomes.filter { if case .unconfirmed = $0 { true } else { false } }.count
        var ledgers: [String: LedgerSnapshot] = [:]
        for (user, sent) in byUser.sorted(by: { $0.key < $1.key }) {
            guard let ledger = await LedgerReader.read(user: user, target: ledgerTarget, transport: transport) else {
                verification.problems.append("user \(user): the ledger could not be read")
                continue
            }
            ledgers[user] = ledger
            verification.check(user: user, sent: sent, ledger: ledger)
        }
        if let processorURL {
            verification.processor = await ProcessorVerification.verify(run, ledgers: ledgers, processorURL: processorURL, transport: transport)
        }
        if verification.problems.count > maximumProblems {
            let leftOut = verification.problems.count - maximumProblems
            verification.problems = Array(verification.problems.prefix(maximumProblems)) + ["… \(leftOut) more problems"]
        }
        return verification
    }

    private mutating func check(user: String, sent: [(payment: LogicalPayment, outcome: CopyOutcome)], ledger: LedgerSnapshot) {
        let chargesByKey = Dictionary(grouping: ledger.charges, by: \.key)
        for (payment, outcome) in sent {
            let key = payment.idempotencyKey
            let charges = chargesByKey[key] ?? []
            let named = "user \(user) key \(key)"
            switch outcome {
            case .confirmed where charges.isEmpty:
                lost += 1
                problems.append("\(named): confirmed with 200 but not charged (lost)")
            case .rejected(let status) where !charges.isEmpty:
                unexpectedCharges += charges.count
                problems.append("\(named): rejected with \(status) but charged \(Self.times(charges))")
                continue
            case .declined(let code) where !charges.isEmpty:
                unexpectedCharges += charges.count
                problems.append("\(named): declined with 402 (\(code ?? "no decline_code")) but charged \(Self.times(charges))")
                continue
            case .unconfirmed where !outcome.wasSent && !charges.isEmpty:
                unexpectedCharges += charges.count
                problems.append("\(named): never sent but charged \(Self.times(charges))")
                continue
            default:
                break
            }
            if charges.count > 1 {
                doubleCharged += charges.count - 1
                problems.append("\(named): charged \(Self.times(charges)) (\(charges.count - 1) double charged)")
            }
            for charge in charges where charge.amountMinor != payment.amountMinor || charge.currency != payment.currency.code {
                wrongAmountOrCurrency += 1
                problems.append("\(named): \(charge.paymentID) charged \(Self.amount(charge.amountMinor, charge.currency)), "
                    + "the run sent \(Self.amount(payment.amountMinor, payment.currency.code))")
            }
        }
        let runKeys = Set(sent.map(\.payment.idempotencyKey))
        for (key, charges) in chargesByKey.sorted(by: { $0.key < $1.key }) where !runKeys.contains(key) {
            unexpectedCharges += charges.count
            problems.append("user \(user) key \(key): charged \(Self.times(charges)) but the run never sent this key")
        }

        var sums: [String: Int64] = [:]
        for charge in ledger.charges { sums[charge.currency, default: 0] += charge.amountMinor }
        for currency in Set(sums.keys).union(ledger.totals.keys).sorted() {
            let total = ledger.totals[currency, default: 0]
            let sum = sums[currency, default: 0]
            if total != sum {
                problems.append("user \(user): ledger total \(Self.amount(total, currency)), its charges sum to \(Self.amount(sum, currency))")
            }
        }
        if ledger.payments != ledger.charges.count {
            problems.append("user \(user): the ledger counts \(ledger.payments) payments but lists \(ledger.charges.count) charges")
        }
        if ledger.chargesTotal != ledger.charges.count {
            problems.append("user \(user): charges_total is \(ledger.chargesTotal) but \(ledger.charges.count) charges were listed")
        }
    }

    /// "once (pay_1)", "3 times (pay_1, pay_2, pay_3)": the payment ids find the charges.
    private static func times(_ charges: [LedgerSnapshot.Charge]) -> String {
        let ids = charges.prefix(5).map(\.paymentID).joined(separator: ", ") + (charges.count > 5 ? ", …" : "")
        return "\(charges.count == 1 ? "once" : "\(charges.count) times") (\(ids))"
    }

    /// "12.34 USD (1234 minor units)"; a code the service does not know stays in minor units.
    static func amount(_ minor: Int64, _ code: String) -> String {
        guard let currency = Currency(code: code), minor >= 0 else { return "\(minor) minor units of \(code)" }
        return "\(Money.format(minorUnits: minor, currency: currency)) \(code) (\(minor) minor units)"
    }
}

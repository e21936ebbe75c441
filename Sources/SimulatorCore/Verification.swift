import PaymentCore

/// Checks, key by key, what each user's ledger charged against what the run sent and
/// saw. Counts alone would let a double charge of one key hide a lost payment of another.
///
/// For every key of the plan: confirmed (a 200) → exactly one charge; unconfirmed but
/// sent → none or one (its 200 may have been lost on the way back); declined (402),
/// rejected or never sent → none. Every charge has the key's amount and currency; no charge has a key the
/// run did not send; the ledger's totals, in every currency, are the sums of its
/// charges, and its count is their number. An abandoned key (its client gave up after an
/// outcome-unknown) has none or one, like an unconfirmed one, but is not unconfirmed: the
/// reconciler settles it, and the processor's side checks it.
///
/// Beyond the ledger: every amount change after an outcome-unknown was refused with 422;
/// with `--reconcile-wait-seconds`, no ledger still lists a payment as unknown after it.
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
    /// Retries with the same key and another amount, after an outcome-unknown, that were
    /// not answered 422 (`--change-amount-after-unknown-rate`).
    public var amountChangeNotRefused = 0
    /// Payments the run's users' ledgers still list as `unknown` when verified.
    public var unknownLeft = 0
    /// Whether those are problems: after `--reconcile-wait-seconds`, yes; without a wait,
    /// the reconciler may simply not have come yet, so they are counted only.
    public var unknownLeftIsProblem = false
    /// The wait for the reconciler before verifying; nil without `--reconcile-wait-seconds`.
    public var reconcile: ReconcileWait?
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
    /// ledgers and the run (ProcessorVerification), after every ledger was read. With a
    /// reconcile wait in the run (`--reconcile-wait-seconds`), first wait for agreement.
    public static func verify(_ run: RunResult, ledgerTarget: String, processorURL: String? = nil, transport: any SimulatorTransport) async -> Verification {
        var byUser: [String: [(payment: LogicalPayment, outcome: CopyOutcome)]] = [:]
        for (payment, outcome) in zip(run.plan, run.outcomes) {
            byUser[payment.userID, default: []].append((payment, outcome))
        }
        var verification = Verification(performed: true)
        if run.reconcileWait > .zero {
            verification.reconcile = await ReconcileWait.wait(
                limit: run.reconcileWait, interval: run.reconcilePollInterval, users: byUser.keys.sorted(),
                ledgerTarget: ledgerTarget, processorURL: processorURL, transport: transport
            )
        }
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
        verification.checkUnknown(ledgers, waited: run.reconcileWait)
        verification.checkAmountChanges(run)
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

    /// What the ledgers still list as unknown: counted always, a problem after a wait.
    private mutating func checkUnknown(_ ledgers: [String: LedgerSnapshot], waited: Duration) {
        unknownLeftIsProblem = waited > .zero
        for (user, ledger) in ledgers.sorted(by: { $0.key < $1.key }) {
            unknownLeft += ledger.unknown.count
            guard unknownLeftIsProblem else { continue }
            for entry in ledger.unknown {
                problems.append("user \(user) key \(entry.key)" + (entry.paymentID.map { " payment_id \($0)" } ?? "")
                    + ": still unknown in our ledger" + (entry.since.map { $0.hasPrefix("since") ? " (\($0))" : " (since \($0))" } ?? "")
                    + " after waiting up to \(Self.seconds(waited)) for the reconciler")
            }
        }
    }

    /// "20 s", or "30 ms" below a second.
    private static func seconds(_ duration: Duration) -> String {
        let ms = Int(duration.totalMilliseconds)
        return ms < 1_000 ? "\(ms) ms" : "\(ms / 1_000) s"
    }

    /// Every amount change after an outcome-unknown must have been refused with 422.
    private mutating func checkAmountChanges(_ run: RunResult) {
        for (payment, afterUnknown) in zip(run.plan, run.afterUnknown) {
            guard let probe = afterUnknown.amountChange, !probe.refused else { continue }
            amountChangeNotRefused += 1
            let named = "user \(payment.userID) key \(payment.idempotencyKey)"
            let changed = "the same key with another amount (\(Self.amount(probe.amountMinor, payment.currency.code)) instead of "
                + "\(Self.amount(payment.amountMinor, payment.currency.code)))"
            problems.append(probe.conclusive
                ? "\(named): after an outcome-unknown, \(changed) was answered \(probe.answer), not 422 idempotency-key-reused"
                : "\(named): after an outcome-unknown, \(changed) got no answer about the amount in \(probe.sends) sends "
                    + "(last: \(probe.answer)), not 422 idempotency-key-reused")
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

/// `--reconcile-wait-seconds`: before the verification, the run's users' ledgers (and
/// the processor's charges, with `--processor-url`) are polled until they agree: nothing
/// charged at the processor is absent from our ledgers, and no ledger lists a payment
/// as unknown. Then the verification reads everything once more, for real.
public struct ReconcileWait: Sendable, Hashable {
    /// The most it would wait.
    public var limit: Duration
    public var waited: Duration = .zero
    /// Reads of everything, the last one included.
    public var polls = 0
    /// Whether the last poll found agreement (false: the limit came first).
    public var agreed = false
    /// At the last poll that could read everything: processor charges whose reference
    /// is in none of our ledgers, and ledger entries still unknown.
    public var processorOnly = 0
    public var unknownLeft = 0

    static func wait(
        limit: Duration, interval: Duration, users: [String], ledgerTarget: String, processorURL: String?, transport: any SimulatorTransport
    ) async -> ReconcileWait {
        var wait = ReconcileWait(limit: limit)
        let started = ContinuousClock.now
        let deadline = started + limit
        while true {
            wait.polls += 1
            if let state = await poll(users: users, ledgerTarget: ledgerTarget, processorURL: processorURL, transport: transport) {
                (wait.processorOnly, wait.unknownLeft) = state
                if state.processorOnly == 0, state.unknownLeft == 0 {
                    wait.agreed = true
                    break
                }
            }
            if ContinuousClock.now + interval > deadline { break }
            try? await Task.sleep(for: interval)
        }
        wait.waited = ContinuousClock.now - started
        return wait
    }

    /// Nil when a ledger or the processor's list could not be read.
    private static func poll(
        users: [String], ledgerTarget: String, processorURL: String?, transport: any SimulatorTransport
    ) async -> (processorOnly: Int, unknownLeft: Int)? {
        var recorded: Set<String> = []
        var unknown = 0
        for user in users {
            guard let ledger = await LedgerReader.read(user: user, target: ledgerTarget, transport: transport) else { return nil }
            recorded.formUnion(ledger.charges.map(\.paymentID))
            unknown += ledger.unknown.count
        }
        guard let processorURL else { return (0, unknown) }
        guard case .success(let processor) = await ProcessorChargesReader.read(processorURL: processorURL, transport: transport) else { return nil }
        return (processor.charges.filter { !recorded.contains($0.reference) }.count, unknown)
    }
}

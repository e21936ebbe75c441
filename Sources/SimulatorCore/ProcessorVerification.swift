import PaymentCore

/// The third side of verification (`--processor-url`): what the processor charged,
/// against our ledger and against what the run's answers said, key by key.
///
/// The ledger is read before the processor, so a charge that lands in between is seen
/// at the processor only (payment-api records a charge after the processor made it),
/// never as a false double charge. After the run nothing sends new charges (the
/// reconciler only looks charges up), so a charge seen at the processor only is one our
/// ledger lacks, not one on its way.
///
/// - Every processor reference (our payment_id) is charged at most once: a second
///   charge is `double_charged`, the failure the processor's idempotency key prevents.
/// - Every reference belongs to a payment_id of our ledger or of an answer of the run;
///   one unknown to both is `unexpected`.
/// - Every ledger charge has a processor charge with its payment_id, amount and currency
///   (`ledger_without_processor_charge`).
/// - A processor charge our ledger does not have is `processor_only`, a problem whatever
///   the key: the server keeps an outcome-unknown payment in the unknown state and its
///   reconciler records what the processor charged, so once it has run (the simulator's
///   `--reconcile-wait-seconds`) the processor and our ledger agree, also for a client
///   that gave up. For an unconfirmed or abandoned key it is also counted as
///   `processor_only_unconfirmed`; for a confirmed, declined or rejected key as
///   `charged_not_recorded`; for a reference nobody knows as `unexpected`.
/// - A confirmed key's receipt names the payment_id its ledger charge has
///   (`payment_id_mismatch`), and that payment_id is charged somewhere
///   (`confirmed_not_charged` when neither the ledger nor the processor has it).
/// - A declined key (402) is not charged at the processor, which lists its reference
///   among its declines (`declined_not_at_processor` otherwise).
public struct ProcessorVerification: Sendable, Hashable {
    /// Whether the processor's charges were read (and so checked).
    public var performed = false
    /// Charges and declines the processor listed.
    public var charges = 0
    public var declined = 0
    /// Processor charges of a reference beyond its first.
    public var doubleCharged = 0
    /// Processor charges whose reference is neither in our ledger nor in any answer.
    public var unexpected = 0
    public var ledgerWithoutProcessorCharge = 0
    /// Processor charges whose reference is in none of our ledgers, whatever the key.
    public var processorOnly = 0
    /// Of those, the charges of unconfirmed or abandoned keys.
    public var processorOnlyUnconfirmed = 0
    /// Processor charges of confirmed, declined or rejected keys that our ledger lacks.
    public var chargedNotRecorded = 0
    public var confirmedNotCharged = 0
    public var declinedNotAtProcessor = 0
    /// Processor charges, not in our ledger, whose amount or currency is not the key's.
    public var wrongAmountOrCurrency = 0
    /// Answers without a payment_id, one key with several, one payment_id for several
    /// keys, or a receipt naming another payment_id than the key's ledger charge.
    public var paymentIDMismatch = 0
    /// The processor's own request counters, as it listed them.
    public var requests: [String: Int] = [:]
    /// One line per problem, naming the user, the key and the payment_id.
    public var problems: [String] = []
    /// What the processor did for each unconfirmed key that was sent: information, not
    /// problems (unconfirmed keys count against `--max-unconfirmed`).
    public var unconfirmed: [String] = []

    public var passed: Bool { performed && problems.isEmpty }

    static func unreadable(_ reason: String) -> ProcessorVerification {
        var verification = ProcessorVerification()
        verification.problems = ["the processor's charges could not be read: \(reason)"]
        return verification
    }

    static func verify(_ run: RunResult, ledgers: [String: LedgerSnapshot], processorURL: String, transport: any SimulatorTransport) async -> ProcessorVerification {
        switch await ProcessorChargesReader.read(processorURL: processorURL, transport: transport) {
        case .failure(let error): return unreadable(error.reason)
        case .success(let processor):
            var verification = check(plan: run.plan, outcomes: run.outcomes, paymentIDs: run.paymentIDs, ledgers: ledgers, processor: processor)
            verification.bound()
            return verification
        }
    }

    /// Users whose ledger could not be read are left out of every ledger comparison: the
    /// ledger verification already fails for them.
    static func check(
        plan: [LogicalPayment], outcomes: [CopyOutcome], paymentIDs: [Set<String>],
        ledgers: [String: LedgerSnapshot], processor: ProcessorCharges
    ) -> ProcessorVerification {
        let index = Index(plan: plan, outcomes: outcomes, paymentIDs: paymentIDs, ledgers: ledgers, processor: processor)
        var verification = ProcessorVerification()
        verification.performed = true
        verification.charges = processor.charges.count
        verification.declined = processor.declined.count
        verification.requests = processor.requests
        verification.paymentIDMismatch = index.idProblems.count
        verification.checkDoubleCharges(index)
        verification.checkReferences(index, plan: plan, outcomes: outcomes, ledgers: ledgers)
        verification.problems += index.idProblems
        verification.checkKeys(index, plan: plan, outcomes: outcomes, paymentIDs: paymentIDs, ledgers: ledgers)
        verification.checkLedger(index, ledgers: ledgers)
        return verification
    }

    /// Double charges first: they are the headline, and the text report shows 20 lines.
    private mutating func checkDoubleCharges(_ index: Index) {
        for reference in index.references {
            let charges = index.byReference[reference] ?? []
            guard charges.count > 1 else { continue }
            doubleCharged += charges.count - 1
            problems.append("\(index.name(reference)) payment_id \(reference): charged \(Self.times(charges)) at the processor "
                + "(\(charges.count - 1) double charged)")
        }
    }

    private mutating func checkReferences(_ index: Index, plan: [LogicalPayment], outcomes: [CopyOutcome], ledgers: [String: LedgerSnapshot]) {
        for reference in index.references {
            let charges = index.byReference[reference] ?? []
            // In our ledger: the ledger comparison checks it, charge against charge.
            guard index.ledgerByID[reference] == nil else { continue }
            guard let owner = index.answered[reference] else {
                processorOnly += charges.count
                unexpected += charges.count
                var line = "unknown key payment_id \(reference): charged \(Self.times(charges)) at the processor "
                    + "(\(Verification.amount(charges[0].amountMinor, charges[0].currency))), but it is not a payment_id of our ledger "
                    + "or of any answer the run got"
                if index.unconfirmedWithoutID > 0 {
                    line += " (\(index.unconfirmedWithoutID) unconfirmed payments of the run got no answer naming their payment_id)"
                }
                problems.append(line)
                continue
            }
            let payment = plan[owner]
            guard ledgers[payment.userID] != nil else { continue }
            processorOnly += charges.count
            let named = "user \(payment.userID) key \(payment.idempotencyKey) payment_id \(reference)"
            switch outcomes[owner] {
            case .unconfirmed(let reason) where outcomes[owner].wasSent:
                processorOnlyUnconfirmed += charges.count
                problems.append("\(named): unconfirmed (\(reason)), charged \(Self.times(charges)) at the processor but not in our ledger "
                    + "(processor only: the reconciler did not record it)")
            case .abandoned:
                processorOnlyUnconfirmed += charges.count
                problems.append("\(named): abandoned after an outcome-unknown, charged \(Self.times(charges)) at the processor but not in our ledger "
                    + "(processor only: the reconciler did not record it)")
            case .confirmed:
                chargedNotRecorded += charges.count
                problems.append("\(named): confirmed with 200, charged \(Self.times(charges)) at the processor but not recorded in our ledger")
            case .declined(let code):
                chargedNotRecorded += charges.count
                problems.append("\(named): declined with 402 (\(code ?? "no decline_code")) but charged \(Self.times(charges)) at the processor "
                    + "(charged at the processor but not recorded)")
            case .rejected(let status):
                chargedNotRecorded += charges.count
                problems.append("\(named): rejected with \(status) but charged \(Self.times(charges)) at the processor (charged at the processor but not recorded)")
            case .unconfirmed:
                chargedNotRecorded += charges.count
                problems.append("\(named): never sent but charged \(Self.times(charges)) at the processor (charged at the processor but not recorded)")
            }
            for charge in charges where charge.amountMinor != payment.amountMinor || charge.currency != payment.currency.code {
                wrongAmountOrCurrency += 1
                problems.append("\(named): \(charge.chargeID) charged \(Verification.amount(charge.amountMinor, charge.currency)) at the processor, "
                    + "the run sent \(Verification.amount(payment.amountMinor, payment.currency.code))")
            }
        }
    }

    private mutating func checkKeys(
        _ index: Index, plan: [LogicalPayment], outcomes: [CopyOutcome], paymentIDs: [Set<String>], ledgers: [String: LedgerSnapshot]
    ) {
        for (position, payment) in plan.enumerated() {
            let named = "user \(payment.userID) key \(payment.idempotencyKey)"
            let paymentID = paymentIDs[position].sorted().first
            // nil: the user's ledger could not be read, so nothing is compared with it.
            let ledgerCharges: [LedgerSnapshot.Charge]? = ledgers[payment.userID] == nil
                ? nil : index.ledgerByKey[Index.UserKey(payment.userID, payment.idempotencyKey)] ?? []
            switch outcomes[position] {
            case .confirmed:
                guard let paymentID else {
                    paymentIDMismatch += 1
                    problems.append("\(named): confirmed with 200 but the receipt has no payment_id")
                    continue
                }
                guard let ledgerCharges else { continue }
                if !ledgerCharges.isEmpty, !ledgerCharges.contains(where: { $0.paymentID == paymentID }) {
                    paymentIDMismatch += 1
                    problems.append("\(named): the receipt says payment_id \(paymentID), our ledger charged this key as "
                        + ledgerCharges.map(\.paymentID).joined(separator: ", "))
                }
                if index.byReference[paymentID] == nil, index.ledgerByID[paymentID] == nil {
                    confirmedNotCharged += 1
                    problems.append("\(named) payment_id \(paymentID): confirmed with 200 but charged neither at the processor nor in our ledger")
                }
            case .declined(let code):
                guard let paymentID else {
                    paymentIDMismatch += 1
                    problems.append("\(named): declined with 402 but the answer has no payment_id")
                    continue
                }
                // Charged anyway: the reference check has said so already.
                if index.byReference[paymentID] == nil, !index.declinedReferences.contains(paymentID) {
                    declinedNotAtProcessor += 1
                    problems.append("\(named) payment_id \(paymentID): declined with 402 (\(code ?? "no decline_code")) "
                        + "but the processor lists no decline with this reference")
                }
            case .unconfirmed(let reason) where outcomes[position].wasSent:
                // No answer named it, but a charge in our ledger does.
                guard let paymentID = paymentID ?? ledgerCharges?.first?.paymentID else {
                    unconfirmed.append("\(named): unconfirmed (\(reason)); no answer named its payment_id, so what the processor did is unknown")
                    continue
                }
                let charges = index.byReference[paymentID] ?? []
                let processorSide = charges.isEmpty ? "not charged at the processor" : "charged \(Self.times(charges)) at the processor"
                let ledgerSide = ledgerCharges == nil ? "its ledger could not be read"
                    : index.ledgerByID[paymentID] == nil ? "not in our ledger" : "recorded in our ledger"
                unconfirmed.append("\(named) payment_id \(paymentID): unconfirmed (\(reason)); \(processorSide), \(ledgerSide)")
            case .rejected, .unconfirmed, .abandoned:
                break
            }
        }
    }

    private mutating func checkLedger(_ index: Index, ledgers: [String: LedgerSnapshot]) {
        for (user, ledger) in ledgers.sorted(by: { $0.key < $1.key }) {
            for charge in ledger.charges {
                let named = "user \(user) key \(charge.key) payment_id \(charge.paymentID)"
                let ours = Verification.amount(charge.amountMinor, charge.currency)
                let theirs = index.byReference[charge.paymentID] ?? []
                if theirs.isEmpty {
                    ledgerWithoutProcessorCharge += 1
                    problems.append("\(named): our ledger charged \(ours) but the processor has no charge with this reference")
                } else if !theirs.contains(where: { $0.amountMinor == charge.amountMinor && $0.currency == charge.currency }) {
                    ledgerWithoutProcessorCharge += 1
                    problems.append("\(named): our ledger charged \(ours), the processor "
                        + theirs.map { "\($0.chargeID) \(Verification.amount($0.amountMinor, $0.currency))" }.joined(separator: ", "))
                }
            }
        }
    }

    /// Keeps the report bounded when a broken processor fails every key.
    private mutating func bound() {
        let maximum = Verification.maximumProblems
        if problems.count > maximum {
            problems = Array(problems.prefix(maximum)) + ["… \(problems.count - maximum) more problems"]
        }
        if unconfirmed.count > maximum {
            unconfirmed = Array(unconfirmed.prefix(maximum)) + ["… \(unconfirmed.count - maximum) more unconfirmed payments"]
        }
    }

    /// "once (ch_1)", "2 times (ch_1, ch_2)".
    static func times(_ charges: [ProcessorCharges.Charge]) -> String {
        let ids = charges.prefix(5).map(\.chargeID).joined(separator: ", ") + (charges.count > 5 ? ", …" : "")
        return "\(charges.count == 1 ? "once" : "\(charges.count) times") (\(ids))"
    }

    /// The lookups every check needs, built once.
    private struct Index {
        struct UserKey: Hashable {
            let user: String
            let key: String
            init(_ user: String, _ key: String) {
                self.user = user
                self.key = key
            }
        }

        /// Processor references in the order first charged.
        var references: [String] = []
        var byReference: [String: [ProcessorCharges.Charge]] = [:]
        var declinedReferences: Set<String> = []
        /// payment_id → plan position, from the answers.
        var answered: [String: Int] = [:]
        var ledgerByID: [String: [(user: String, charge: LedgerSnapshot.Charge)]] = [:]
        var ledgerByKey: [UserKey: [LedgerSnapshot.Charge]] = [:]
        var unconfirmedWithoutID = 0
        /// Answers that disagree about payment ids (`payment_id_mismatch`).
        var idProblems: [String] = []
        private let plan: [LogicalPayment]

        init(plan: [LogicalPayment], outcomes: [CopyOutcome], paymentIDs: [Set<String>], ledgers: [String: LedgerSnapshot], processor: ProcessorCharges) {
            self.plan = plan
            for charge in processor.charges {
                if byReference[charge.reference] == nil { references.append(charge.reference) }
                byReference[charge.reference, default: []].append(charge)
            }
            declinedReferences = Set(processor.declined.map(\.reference))
            for (position, ids) in paymentIDs.enumerated() {
                let named = "user \(plan[position].userID) key \(plan[position].idempotencyKey)"
                if ids.count > 1 {
                    idProblems.append("\(named): its answers named \(ids.count) payment_ids (\(ids.sorted().joined(separator: ", "))), a key has one")
                }
                for id in ids.sorted() {
                    if let other = answered[id] {
                        idProblems.append("\(named): payment_id \(id) was also answered for user \(plan[other].userID) key \(plan[other].idempotencyKey)")
                    } else {
                        answered[id] = position
                    }
                }
            }
            for (user, ledger) in ledgers.sorted(by: { $0.key < $1.key }) {
                for charge in ledger.charges {
                    ledgerByID[charge.paymentID, default: []].append((user, charge))
                    ledgerByKey[UserKey(user, charge.key), default: []].append(charge)
                }
            }
            // Sent, never named, not in our ledger: a processor charge of theirs has a
            // reference the run cannot know, and reads as unexpected.
            unconfirmedWithoutID = plan.indices.filter { position in
                switch outcomes[position] {
                case .unconfirmed where outcomes[position].wasSent, .abandoned: break
                default: return false
                }
                guard paymentIDs[position].isEmpty else { return false }
                return ledgerByKey[UserKey(plan[position].userID, plan[position].idempotencyKey)] == nil
            }.count
        }

        /// "user u key k" of a reference, from the answers or our ledger; "unknown key".
        func name(_ reference: String) -> String {
            if let position = answered[reference] { return "user \(plan[position].userID) key \(plan[position].idempotencyKey)" }
            if let recorded = ledgerByID[reference]?.first { return "user \(recorded.user) key \(recorded.charge.key)" }
            return "unknown key"
        }
    }
}

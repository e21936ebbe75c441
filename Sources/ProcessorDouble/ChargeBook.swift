import PaymentCore
import Synchronization

/// The double's state, shared by every connection: keys, charges, declines, counters
/// and the fault generator, all under one lock so that a request's decision (which key
/// state it saw, which faults it drew) and its bookkeeping are one step.
final class ChargeBook: Sendable {
    /// What happens to the first request of a key, drawn when it arrives.
    enum Plan: Sendable, Hashable {
        case failBefore
        case decline
        case charge(AfterCharge)
    }

    enum AfterCharge: Sendable, Hashable {
        case answer
        case status500
        case drop
        case slow
    }

    /// The answer to a request, decided under the lock.
    enum Admission: Sendable, Hashable {
        case replay(chargeID: String)
        case declinedAgain
        case inProgress
        case reused
        /// A new key: do `plan` after the latency, then `complete(_:)`.
        case begin(Work)
    }

    struct Work: Sendable, Hashable {
        let key: String
        let request: ChargeRequest
        let plan: Plan
    }

    enum Completion: Sendable, Hashable {
        case failedBefore
        case declined
        case charged(chargeID: String, then: AfterCharge)
    }

    private enum KeyState {
        case inProgress
        case charged(chargeID: String, amountMinor: Int64, currency: String)
        case declined(amountMinor: Int64, currency: String)
    }

    private struct State {
        var keys: [String: KeyState] = [:]
        var ledger = ProcessorLedger()
        var generator: SplitMix64
        var chargesMade: UInt64 = 0
    }

    private let settings: ProcessorDoubleSettings
    private let state: Mutex<State>

    init(settings: ProcessorDoubleSettings) {
        self.settings = settings
        self.state = Mutex(State(generator: SplitMix64(seed: settings.seed)))
    }

    var snapshot: ProcessorLedger { state.withLock { $0.ledger } }

    /// A request refused before its key was looked at (401, 400, 413).
    func reject(unauthorized: Bool) {
        state.withLock { state in
            state.ledger.requests.total += 1
            if unauthorized { state.ledger.requests.unauthorized += 1 } else { state.ledger.requests.invalid += 1 }
        }
    }

    func admit(key: String, request: ChargeRequest) -> Admission {
        state.withLock { state in
            state.ledger.requests.total += 1
            if !settings.ignoreIdempotencyKeys, let known = state.keys[key] {
                return Self.answerKnown(known, request: request, counts: &state.ledger.requests)
            }
            let plan = Self.drawPlan(settings, &state.generator)
            if !settings.ignoreIdempotencyKeys { state.keys[key] = .inProgress }
            return .begin(Work(key: key, request: request, plan: plan))
        }
    }

    /// A known key is answered from its state, never with a fault.
    private static func answerKnown(_ known: KeyState, request: ChargeRequest, counts: inout ProcessorLedger.RequestCounts) -> Admission {
        switch known {
        case .inProgress:
            counts.inProgress += 1
            return .inProgress
        case .charged(let chargeID, let amount, let currency):
            guard amount == request.amountMinor, currency == request.currency.code else {
                counts.reused += 1
                return .reused
            }
            counts.replayed += 1
            return .replay(chargeID: chargeID)
        case .declined(let amount, let currency):
            guard amount == request.amountMinor, currency == request.currency.code else {
                counts.reused += 1
                return .reused
            }
            counts.declined += 1
            return .declinedAgain
        }
    }

    /// Every new key draws five numbers, whatever the rates, so the n-th new key always
    /// gets the same draws for a seed. Precedence: fail-before, decline, charge-then-fail
    /// (drop or 500), slow.
    private static func drawPlan(_ settings: ProcessorDoubleSettings, _ generator: inout SplitMix64) -> Plan {
        let failBefore = generator.unit() < settings.failBeforeRate
        let decline = generator.unit() < settings.declineRate
        let chargeThenFail = generator.unit() < settings.chargeThenFailRate
        let dropRatherThan500 = generator.unit() < 0.5
        let slow = generator.unit() < settings.slowRate
        if failBefore { return .failBefore }
        if decline { return .decline }
        if chargeThenFail {
            switch settings.chargeThenFail {
            case .drop: return .charge(.drop)
            case .status500: return .charge(.status500)
            case .both: return .charge(dropRatherThan500 ? .drop : .status500)
            }
        }
        return .charge(slow ? .slow : .answer)
    }

    /// The work of a new key is done: record what it did.
    func complete(_ work: Work) -> Completion {
        state.withLock { state in
            let request = work.request
            switch work.plan {
            case .failBefore:
                // Nothing happened: the key is free for a retry, which draws anew.
                if !settings.ignoreIdempotencyKeys { state.keys[work.key] = nil }
                state.ledger.requests.failedBefore += 1
                return .failedBefore
            case .decline:
                if !settings.ignoreIdempotencyKeys {
                    state.keys[work.key] = .declined(amountMinor: request.amountMinor, currency: request.currency.code)
                }
                state.ledger.declined.append(.init(
                    idempotencyKey: work.key, reference: request.reference, amountMinor: request.amountMinor,
                    currency: request.currency.code, code: "card_declined"
                ))
                state.ledger.requests.declined += 1
                return .declined
            case .charge(let after):
                state.chargesMade += 1
                let chargeID = Self.chargeID(seed: settings.seed, number: state.chargesMade)
                if !settings.ignoreIdempotencyKeys {
                    state.keys[work.key] = .charged(chargeID: chargeID, amountMinor: request.amountMinor, currency: request.currency.code)
                }
                state.ledger.charges.append(.init(
                    chargeID: chargeID, idempotencyKey: work.key, reference: request.reference,
                    amountMinor: request.amountMinor, currency: request.currency.code
                ))
                state.ledger.requests.charged += 1
                switch after {
                case .answer: break
                case .status500: state.ledger.requests.failedAfterCharge += 1
                case .drop: state.ledger.requests.droppedAfterCharge += 1
                case .slow: state.ledger.requests.slow += 1
                }
                return .charged(chargeID: chargeID, then: after)
            }
        }
    }

    /// `ch_` and 16 hex digits: unique within a double (the finalizer is a bijection of
    /// the charge number) and the same for a seed, without drawing from the fault
    /// generator (so the number of charges never shifts the faults).
    static func chargeID(seed: UInt64, number: UInt64) -> String {
        let value = SplitMix64.mix(seed &* 0x9E37_79B9_7F4A_7C15 &+ number)
        let hex = String(value, radix: 16)
        return "ch_" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}

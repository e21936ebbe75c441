import PaymentCore
import Synchronization

/// The double's state, shared by every connection: keys, charges, declines, counters
/// and the fault generators, all under one lock so that a request's decision (which key
/// state it saw, which faults it drew) and its bookkeeping are one step.
final class ChargeBook: Sendable {
    /// What happens to the first request of a key, drawn when it arrives.
    enum Plan: Sendable, Hashable {
        case failBefore
        case absurdRetryAfter
        case decline
        case charge(AfterCharge)
    }

    enum AfterCharge: Sendable, Hashable {
        case answer
        case status500
        case drop
        case slow
        /// The 201's head at once, its body after `settings.stall`.
        case stall
    }

    /// The transient refusal of `transient4xxRate`, alternating from the first.
    enum TransientRefusal: Sendable, Hashable {
        case rateLimited
        case unauthorized
    }

    /// What a lookup (`GET /charges/{key}`) answers.
    enum Lookup: Sendable, Hashable {
        case charged(chargeID: String, amountMinor: Int64, currency: String, reference: String)
        case inProgress
        case nothingCharged
        /// The lookup fault: 503, whatever the key's state.
        case unavailable
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
        case absurdRetryAfter
        case declined
        case charged(chargeID: String, then: AfterCharge)
    }

    private enum KeyState {
        case inProgress
        case charged(chargeID: String, amountMinor: Int64, currency: String, reference: String)
        case declined(amountMinor: Int64, currency: String)
    }

    /// One generator per kind of draw, each seeded from `settings.seed`, so that each
    /// kind's n-th draw is fixed by the seed alone: replays and lookups never shift the
    /// faults of new keys, and the faults added later never shifted the first five draws
    /// (a seed decides the same fail-before, decline, charge-then-fail and slow faults as
    /// before they existed).
    private struct State {
        var keys: [String: KeyState] = [:]
        var ledger = ProcessorLedger()
        /// Five draws per new key: fail-before, decline, charge-then-fail, drop-or-500, slow.
        var newKeyFaults: SplitMix64
        /// Two more per new key: absurd Retry-After, stall.
        var newKeyLaterFaults: SplitMix64
        /// One per `POST /charges`: the transient 4xx.
        var requestFaults: SplitMix64
        /// One per lookup that passed the token and key checks: the lookup fault.
        var lookupFaults: SplitMix64
        var chargesMade: UInt64 = 0
        var transientRefusals: UInt64 = 0
    }

    private let settings: ProcessorDoubleSettings
    private let state: Mutex<State>

    init(settings: ProcessorDoubleSettings) {
        self.settings = settings
        // The extra streams start at mixed positions of SplitMix64's sequence, far from
        // the first stream's (which starts at the seed itself, as it always did).
        let seed = settings.seed
        self.state = Mutex(State(
            newKeyFaults: SplitMix64(seed: seed),
            newKeyLaterFaults: SplitMix64(seed: SplitMix64.mix(seed ^ 0x6E65_776B_6579_3261)),
            requestFaults: SplitMix64(seed: SplitMix64.mix(seed ^ 0x7265_7175_6573_7473)),
            lookupFaults: SplitMix64(seed: SplitMix64.mix(seed ^ 0x6C6F_6F6B_7570_7321))
        ))
    }

    var snapshot: ProcessorLedger { state.withLock { $0.ledger } }

    /// The first step of every `POST /charges`: one draw of the transient 4xx. A refusal
    /// is counted (in `total` and `transient4xx`) and changes nothing else.
    func drawTransientRefusal() -> TransientRefusal? {
        state.withLock { state in
            guard state.requestFaults.unit() < settings.transient4xxRate else { return nil }
            state.ledger.requests.total += 1
            state.ledger.requests.transient4xx += 1
            state.transientRefusals += 1
            return state.transientRefusals % 2 == 1 ? .rateLimited : .unauthorized
        }
    }

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
            let plan = Self.drawPlan(settings, &state.newKeyFaults, &state.newKeyLaterFaults)
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
        case .charged(let chargeID, let amount, let currency, _):
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

    /// Every new key draws five numbers from the first generator and two from the second,
    /// whatever the rates, so the n-th new key always gets the same draws for a seed.
    /// Precedence: fail-before, absurd Retry-After, decline, charge-then-fail (drop or
    /// 500), slow, stall.
    private static func drawPlan(
        _ settings: ProcessorDoubleSettings, _ generator: inout SplitMix64, _ later: inout SplitMix64
    ) -> Plan {
        let failBefore = generator.unit() < settings.failBeforeRate
        let decline = generator.unit() < settings.declineRate
        let chargeThenFail = generator.unit() < settings.chargeThenFailRate
        let dropRatherThan500 = generator.unit() < 0.5
        let slow = generator.unit() < settings.slowRate
        let absurdRetryAfter = later.unit() < settings.absurdRetryAfterRate
        let stall = later.unit() < settings.stallRate
        if failBefore { return .failBefore }
        if absurdRetryAfter { return .absurdRetryAfter }
        if decline { return .decline }
        if chargeThenFail {
            switch settings.chargeThenFail {
            case .drop: return .charge(.drop)
            case .status500: return .charge(.status500)
            case .both: return .charge(dropRatherThan500 ? .drop : .status500)
            }
        }
        if slow { return .charge(.slow) }
        return .charge(stall ? .stall : .answer)
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
            case .absurdRetryAfter:
                // As a fail-before: nothing charged, the key free for a retry.
                if !settings.ignoreIdempotencyKeys { state.keys[work.key] = nil }
                state.ledger.requests.absurdRetryAfter += 1
                return .absurdRetryAfter
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
                    state.keys[work.key] = .charged(
                        chargeID: chargeID, amountMinor: request.amountMinor, currency: request.currency.code,
                        reference: request.reference
                    )
                }
                state.ledger.charges.append(.init(
                    chargeID: chargeID, idempotencyKey: work.key, reference: request.reference,
                    amountMinor: request.amountMinor, currency: request.currency.code, traceparent: request.traceparent
                ))
                state.ledger.requests.charged += 1
                switch after {
                case .answer: break
                case .status500: state.ledger.requests.failedAfterCharge += 1
                case .drop: state.ledger.requests.droppedAfterCharge += 1
                case .slow: state.ledger.requests.slow += 1
                case .stall: state.ledger.requests.stalled += 1
                }
                return .charged(chargeID: chargeID, then: after)
            }
        }
    }

    /// A lookup refused before its key was looked at (401, 400): counted, no draw.
    func rejectLookup() {
        state.withLock { $0.ledger.requests.lookups += 1 }
    }

    /// `GET /charges/{key}`: one draw of the lookup fault, then what the double knows of
    /// the key. Read-only: it never charges, declines or forgets anything.
    func lookup(key: String) -> Lookup {
        state.withLock { state in
            state.ledger.requests.lookups += 1
            guard !(state.lookupFaults.unit() < settings.lookupFailRate) else {
                state.ledger.requests.lookupsUnavailable += 1
                return .unavailable
            }
            guard !settings.ignoreIdempotencyKeys else {
                // No key state is kept: the first charge made under the key, if any.
                guard let charge = state.ledger.charges.first(where: { $0.idempotencyKey == key }) else { return .nothingCharged }
                return .charged(chargeID: charge.chargeID, amountMinor: charge.amountMinor, currency: charge.currency, reference: charge.reference)
            }
            switch state.keys[key] {
            case .charged(let chargeID, let amount, let currency, let reference)?:
                return .charged(chargeID: chargeID, amountMinor: amount, currency: currency, reference: reference)
            case .inProgress?:
                return .inProgress
            case .declined?, nil:
                // A declined key charged nothing; an unknown one may never have been seen
                // or been forgotten after a failure that charged nothing.
                return .nothingCharged
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

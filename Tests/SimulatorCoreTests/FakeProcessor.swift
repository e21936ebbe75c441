import PaymentCore
import ProcessorDouble
import SimulatorCore
import Synchronization

/// An in-memory payment processor for the simulator's tests: FakePaymentServer charges
/// through it as payment-api charges through PROCESSOR_URL, and it serves `GET /charges`
/// in the processor double's shape. Idempotent by key unless told otherwise; its list
/// can be edited before it is served, so one check at a time can be made to fail.
final class FakeProcessor: Sendable {
    /// The double's own types, so the JSON the simulator reads is the double's.
    typealias Charge = ProcessorLedger.Charge
    typealias Decline = ProcessorLedger.Decline

    struct Behaviour: Sendable {
        /// The broken processor: every request charges anew, whatever its key.
        var ignoreIdempotencyKeys = false
        /// Our idempotency keys (the fake's processor key is `pk_` + ours) it declines.
        var declineKeys: Set<String> = []
        /// Rewrites the lists before `GET /charges` serves them.
        var editCharges: (@Sendable (_ charges: inout [Charge]) -> Void)?
        var editDeclined: (@Sendable (_ declined: inout [Decline]) -> Void)?
        /// Serve this body instead of the lists.
        var chargesBody: String?
    }

    enum Answer: Sendable, Hashable {
        case charged(chargeID: String)
        case declined(code: String)
    }

    private struct State {
        var charges: [Charge] = []
        var declined: [Decline] = []
        var byKey: [String: Answer] = [:]
        var reads = 0
    }

    private let behaviour: Behaviour
    private let state = Mutex(State())

    init(_ behaviour: Behaviour = Behaviour()) {
        self.behaviour = behaviour
    }

    var reads: Int { state.withLock { $0.reads } }

    /// `POST /charges` with `Idempotency-Key: pk_<key>` and `reference`.
    func charge(key: String, reference: String, amountMinor: Int64, currency: String) -> Answer {
        state.withLock { state in
            let processorKey = "pk_" + key
            if !behaviour.ignoreIdempotencyKeys, let earlier = state.byKey[processorKey] { return earlier }
            let answer: Answer
            if behaviour.declineKeys.contains(key) {
                state.declined.append(Decline(idempotencyKey: processorKey, reference: reference, amountMinor: amountMinor, currency: currency, code: "card_declined"))
                answer = .declined(code: "card_declined")
            } else {
                let chargeID = "ch_\(state.charges.count + 1)"
                state.charges.append(Charge(chargeID: chargeID, idempotencyKey: processorKey, reference: reference, amountMinor: amountMinor, currency: currency))
                answer = .charged(chargeID: chargeID)
            }
            state.byKey[processorKey] = answer
            return answer
        }
    }

    /// `GET /charges/{processor key}` for our key: the charge_id, or nil (404).
    func chargeID(forKey key: String) -> String? {
        state.withLock { state in
            if case .charged(let chargeID)? = state.byKey["pk_" + key] { return chargeID }
            return nil
        }
    }

    /// `GET /charges`, as the double answers it.
    func get(_ url: String) -> HTTPResult {
        guard url.hasSuffix("/charges") else { return HTTPResult(status: 404) }
        var (charges, declined) = state.withLock { state in
            state.reads += 1
            return (state.charges, state.declined)
        }
        if let body = behaviour.chargesBody { return HTTPResult(status: 200, body: Array(body.utf8)) }
        behaviour.editCharges?(&charges)
        behaviour.editDeclined?(&declined)
        var ledger = ProcessorLedger()
        ledger.charges = charges
        ledger.declined = declined
        ledger.requests.charged = charges.count
        ledger.requests.declined = declined.count
        return HTTPResult(status: 200, body: ledger.json)
    }
}

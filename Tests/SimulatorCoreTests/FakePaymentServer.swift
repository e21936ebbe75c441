import Foundation
import PaymentCore
import SimulatorCore
import StrictJSON
import Synchronization

/// An in-memory payment server for the simulator's tests. It is idempotent like the real
/// one unless told otherwise, and can be told to fail, to limit, or to lie in its ledger.
/// Its ledger has the real one's shape: count, totals per currency, and the charges in
/// the order charged, in pages (`?offset=&limit=`). Given a FakeProcessor, it charges
/// through it as payment-api does with PROCESSOR_URL: one payment_id per key, the
/// processor's 402 passed on (and replayed), and on request a 503 outcome-unknown after
/// the processor charged (or before it was asked). Like payment-api, it keeps such a key
/// in the unknown state with its fingerprint: listed in the ledger's `unknown`, a retry
/// with the same payload asks the processor again, another amount gets 422, and its
/// reconciler (on request, counted in ledger reads, not in time) records what the
/// processor charged or releases the key. Answers carry `payment_id` as the real ones do.
final class FakePaymentServer: SimulatorTransport, Sendable {
    struct Charge: Sendable, Hashable {
        var paymentID: String
        var key: String
        var amountMinor: Int64
        var currency: String
    }

    struct Behaviour: Sendable {
        /// Every n-th request for a key that has not completed yet answers 500 (0: never).
        var failEvery = 0
        /// Answer every /pay with this status instead (e.g. 503, 422).
        var forcedStatus: Int?
        var retryAfterSeconds: Int?
        /// Charge every 200 again, as a broken server without idempotency would.
        var idempotent = true
        /// Charge, then answer this status instead of 200: a 200 lost on its way back.
        var statusAfterCharging: Int?
        /// The most charges a ledger page holds, whatever the client asks for.
        var pageSize = 1_000
        /// Rewrites a user's charges before the ledger is served; count and totals follow
        /// the edited list, so only a check key by key can see the edit.
        var editCharges: (@Sendable (_ user: String, _ charges: inout [Charge]) -> Void)?
        /// Added to the count and to the totals after they are summed from the charges:
        /// a ledger whose summary disagrees with its own charges.
        var countOffset = 0
        var totalsOffset: [String: Int64] = [:]
        /// Added to `charges_total`: a server that claims more charges than it lists.
        var chargesTotalOffset = 0
        /// Leaves `charges` and `charges_total` out, as a server older than them does.
        var omitCharges = false
        /// Charge through this processor; `GET` of a URL under `processorURL` is its.
        var processor: FakeProcessor?
        /// Keys whose first processor charge is answered 503 outcome-unknown, recording
        /// nothing but the unknown state, as after a processor timeout.
        var outcomeUnknownKeys: Set<String> = []
        /// Answer those 503s before asking the processor: nothing is charged.
        var unknownBeforeCharging = false
        /// The reconciler: from this ledger read on (1 is the first), every ledger read
        /// first resolves every unknown key: charged at the processor → recorded (a later
        /// retry replays it), not charged → released. nil: it never runs.
        var reconcileAfterLedgerReads: Int?
        /// A BROKEN server: the same key with another amount, while the key is unknown,
        /// is answered this status (500: "nothing was charged", as before the unknown
        /// state existed) instead of 422. Nothing is charged.
        var changedAmountAfterUnknownStatus: Int?
        /// A BROKEN server: the first retry of an unknown key is answered 500
        /// `/problems/processor-failed` ("nothing was charged"), the key kept unknown.
        var processorFailedAfterUnknown = false
    }

    static let processorURL = "http://processor"

    private struct State {
        var done: Set<String> = []
        /// key → the payment_id every attempt of it gets.
        var paymentIDs: [String: String] = [:]
        /// key → the 402 body, replayed.
        var declined: [String: [UInt8]] = [:]
        var outcomeUnknownAnswered: Set<String> = []
        /// key → (amount, currency) of the key's record.
        var fingerprints: [String: Fingerprint] = [:]
        /// Keys in the unknown state, in the order they became unknown.
        var unknown: [Unknown] = []
        var processorFailedAnswered: Set<String> = []
        var amountsSeen: [(key: String, amountMinor: Int64)] = []
        var tracesSeen: [(key: String, traceparent: String)] = []
        var charges: [String: [Charge]] = [:]  // user → charges in the order charged
        var requests = 0
        var payRequests: [String] = []  // keys in arrival order
        var ledgerReads = 0
    }

    private struct Fingerprint: Hashable {
        var amountMinor: Int64
        var currency: String
    }

    private struct Unknown {
        var user: String
        var key: String
        var paymentID: String
        var fingerprint: Fingerprint
    }

    private let behaviour: Behaviour
    private let state = Mutex(State())

    init(_ behaviour: Behaviour = Behaviour()) {
        self.behaviour = behaviour
    }

    var keysSeen: [String] { state.withLock { $0.payRequests } }
    var ledgerReads: Int { state.withLock { $0.ledgerReads } }
    /// Every /pay request's key and amount, in arrival order.
    var amountsSeen: [(key: String, amountMinor: Int64)] { state.withLock { $0.amountsSeen } }
    var unknownKeys: [String] { state.withLock { $0.unknown.map(\.key) } }

    /// Every /pay request's key and `traceparent`, in arrival order.
    var tracesSeen: [(key: String, traceparent: String)] { state.withLock { $0.tracesSeen } }

    func post(_ url: String, body: [UInt8], timeout: Duration, traceparent: String) async throws(TransportError) -> HTTPResult {
        if case .object(let fields)? = try? JSONParser.parse(body), case .string(let key)? = fields.first(where: { $0.key == "idempotency_key" })?.value {
            state.withLock { $0.tracesSeen.append((key, traceparent)) }
        }
        return try await post(url, body: body, timeout: timeout)
    }

    func post(_ url: String, body: [UInt8], timeout: Duration) async throws(TransportError) -> HTTPResult {
        guard case .object(let fields)? = try? JSONParser.parse(body),
              case .string(let user)? = fields.first(where: { $0.key == "user_id" })?.value,
              case .string(let key)? = fields.first(where: { $0.key == "idempotency_key" })?.value,
              case .number(let amountText)? = fields.first(where: { $0.key == "amount" })?.value
        else { return HTTPResult(status: 400) }
        var currency = Currency.usd
        if let field = fields.first(where: { $0.key == "currency" })?.value {
            guard case .string(let code) = field, let named = Currency(code: code) else { return HTTPResult(status: 400) }
            currency = named
        }
        guard let amount = try? Money.minorUnits(fromJSONNumber: amountText, currency: currency) else {
            return HTTPResult(status: 400)
        }
        return state.withLock { state in
            state.requests += 1
            state.payRequests.append(key)
            state.amountsSeen.append((key, amount))
            if let forced = behaviour.forcedStatus {
                return HTTPResult(status: forced, retryAfter: behaviour.retryAfterSeconds.map { .seconds($0) })
            }
            if let declined = state.declined[key] { return HTTPResult(status: 402, replayed: true, body: declined) }
            let fingerprint = Fingerprint(amountMinor: amount, currency: currency.code)
            let isUnknown = state.unknown.contains { $0.key == key }
            if behaviour.idempotent, let recorded = state.fingerprints[key], recorded != fingerprint {
                if isUnknown, let status = behaviour.changedAmountAfterUnknownStatus {
                    return HTTPResult(status: status, body: status == 500 ? Self.problem("/problems/processor-failed", paymentID: nil) : [])
                }
                return HTTPResult(status: 422, body: Self.problem("/problems/idempotency-key-reused", paymentID: nil))
            }
            if behaviour.idempotent, state.done.contains(key) {
                return HTTPResult(status: 200, replayed: true, body: Self.receipt(state.paymentIDs[key] ?? ""))
            }
            if isUnknown, behaviour.processorFailedAfterUnknown, state.processorFailedAnswered.insert(key).inserted {
                return HTTPResult(status: 500, body: Self.problem("/problems/processor-failed", paymentID: nil))
            }
            if behaviour.failEvery > 0, state.requests % behaviour.failEvery == 0 { return HTTPResult(status: 500) }
            // A server without idempotency makes a new payment of every request.
            let paymentID = behaviour.idempotent ? state.paymentIDs[key] ?? "pay_\(state.requests)" : "pay_\(state.requests)"
            state.paymentIDs[key] = paymentID
            state.fingerprints[key] = fingerprint
            func unknown() -> HTTPResult {
                if !isUnknown { state.unknown.append(Unknown(user: user, key: key, paymentID: paymentID, fingerprint: fingerprint)) }
                return HTTPResult(status: 503, retryAfter: .seconds(0), body: Self.problem("/problems/outcome-unknown", paymentID: paymentID))
            }
            if behaviour.unknownBeforeCharging, behaviour.outcomeUnknownKeys.contains(key), state.outcomeUnknownAnswered.insert(key).inserted {
                return unknown()
            }
            if let processor = behaviour.processor {
                switch processor.charge(key: key, reference: paymentID, amountMinor: amount, currency: currency.code) {
                case .declined(let code):
                    let body = Self.problem("/problems/payment-declined", paymentID: paymentID, declineCode: code)
                    state.declined[key] = body
                    state.unknown.removeAll { $0.key == key }
                    return HTTPResult(status: 402, body: body)
                case .charged:
                    if behaviour.outcomeUnknownKeys.contains(key), state.outcomeUnknownAnswered.insert(key).inserted {
                        return unknown()
                    }
                }
            }
            state.done.insert(key)
            state.unknown.removeAll { $0.key == key }
            let charge = Charge(paymentID: paymentID, key: key, amountMinor: amount, currency: currency.code)
            state.charges[user, default: []].append(charge)
            let status = behaviour.statusAfterCharging ?? 200
            return HTTPResult(status: status, body: status == 200 ? Self.receipt(paymentID) : [])
        }
    }

    private static func receipt(_ paymentID: String) -> [UInt8] {
        var writer = JSONWriter()
        writer.object { object in
            object.field("payment_id", string: paymentID)
            object.field("status", string: "succeeded")
        }
        return writer.bytes
    }

    private static func problem(_ type: String, paymentID: String?, declineCode: String? = nil) -> [UInt8] {
        var writer = JSONWriter()
        writer.object { object in
            object.field("type", string: type)
            if let paymentID { object.field("payment_id", string: paymentID) }
            if let declineCode { object.field("decline_code", string: declineCode) }
        }
        return writer.bytes
    }

    func get(_ url: String, timeout: Duration) async throws(TransportError) -> HTTPResult {
        if url.hasSuffix("/readyz") { return HTTPResult(status: 200) }
        if let processor = behaviour.processor, url.hasPrefix(Self.processorURL + "/") { return processor.get(url) }
        guard let range = url.range(of: "/ledger/") else { return HTTPResult(status: 404) }
        let pathAndQuery = url[range.upperBound...].split(separator: "?", maxSplits: 1)
        let user = String(pathAndQuery.first ?? "")
        var offset = 0
        var limit = 100
        for parameter in pathAndQuery.dropFirst().first?.split(separator: "&") ?? [] {
            let pair = parameter.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, let value = Int(pair[1]) else { return HTTPResult(status: 400) }
            if pair[0] == "offset" { offset = value }
            if pair[0] == "limit" { limit = value }
        }
        var (charges, unknown) = state.withLock { state in
            state.ledgerReads += 1
            if let after = behaviour.reconcileAfterLedgerReads, state.ledgerReads >= after { reconcile(&state) }
            return (state.charges[user] ?? [], state.unknown.filter { $0.user == user })
        }
        behaviour.editCharges?(user, &charges)
        var totals: [String: Int64] = [:]
        for charge in charges { totals[charge.currency, default: 0] += charge.amountMinor }
        for (currency, offset) in behaviour.totalsOffset { totals[currency, default: 0] += offset }

        var head = JSONWriter()
        head.object { object in
            object.field("user_id", string: user)
            object.field("payments", integer: Int64(charges.count + behaviour.countOffset))
            object.field("totals") { fields in
                for (currency, total) in totals.sorted(by: { $0.key < $1.key }) { fields.field(currency, integer: total) }
            }
            if !behaviour.omitCharges {
                object.field("charges_total", integer: Int64(charges.count + behaviour.chargesTotalOffset))
                let page = charges.dropFirst(offset).prefix(min(limit, behaviour.pageSize)).map { charge in
                    PaymentCore.Charge(paymentID: charge.paymentID, idempotencyKey: charge.key, amountMinor: charge.amountMinor, currency: charge.currency)
                }
                object.field("charges", charges: page)
            }
            object.field("unknown", objects: unknown) { entry, record in
                entry.field("idempotency_key", string: record.key)
                entry.field("payment_id", string: record.paymentID)
                entry.field("since_ms", integer: 1_767_225_600_000)
            }
        }
        return HTTPResult(status: 200, body: head.bytes)
    }

    /// What payment-api's reconciler does: look every unknown key up at the processor;
    /// charged → the charge is recorded and the key done; not → the key is released.
    private func reconcile(_ state: inout State) {
        for record in state.unknown {
            if behaviour.processor?.chargeID(forKey: record.key) != nil {
                state.done.insert(record.key)
                state.charges[record.user, default: []].append(Charge(
                    paymentID: record.paymentID, key: record.key, amountMinor: record.fingerprint.amountMinor, currency: record.fingerprint.currency
                ))
            } else {
                state.fingerprints[record.key] = nil
            }
        }
        state.unknown = []
    }
}

import Foundation
import PaymentCore
import SimulatorCore
import Synchronization

/// An in-memory payment server for the simulator's tests. It is idempotent like the real
/// one unless told otherwise, and can be told to fail, to limit, or to lie in its ledger.
final class FakePaymentServer: SimulatorTransport, Sendable {
    struct Behaviour: Sendable {
        /// Every n-th request for a key that has not completed yet answers 500 (0: never).
        var failEvery = 0
        /// Answer every /pay with this status instead (e.g. 503, 422).
        var forcedStatus: Int?
        var retryAfterSeconds: Int?
        /// Charge every 200 again, as a broken server without idempotency would.
        var idempotent = true
        /// Added to the ledger's count: a ledger that lies.
        var ledgerCountOffset = 0
    }

    private struct State {
        var done: [String: Int64] = [:]  // key → amount
        var ledger: [String: (count: Int, total: Int64)] = [:]
        var requests = 0
        var payRequests: [String] = []  // keys in arrival order
    }

    private let behaviour: Behaviour
    private let state = Mutex(State())

    init(_ behaviour: Behaviour = Behaviour()) {
        self.behaviour = behaviour
    }

    var keysSeen: [String] { state.withLock { $0.payRequests } }

    func post(_ url: String, body: [UInt8], timeout: Duration) async throws(TransportError) -> HTTPResult {
        guard case .object(let fields)? = try? JSONParser.parse(body),
              case .string(let user)? = fields.first(where: { $0.key == "user_id" })?.value,
              case .string(let key)? = fields.first(where: { $0.key == "idempotency_key" })?.value,
              case .number(let amountText)? = fields.first(where: { $0.key == "amount" })?.value,
              let amount = try? Money.minorUnits(fromJSONNumber: amountText, currency: .usd)
        else { return HTTPResult(status: 400) }
        return state.withLock { state in
            state.requests += 1
            state.payRequests.append(key)
            if let forced = behaviour.forcedStatus {
                return HTTPResult(status: forced, retryAfter: behaviour.retryAfterSeconds.map { .seconds($0) })
            }
            if behaviour.idempotent, state.done[key] != nil { return HTTPResult(status: 200, replayed: true) }
            if behaviour.failEvery > 0, state.requests % behaviour.failEvery == 0 { return HTTPResult(status: 500) }
            state.done[key] = amount
            let entry = state.ledger[user, default: (0, 0)]
            state.ledger[user] = (entry.count + 1, entry.total + amount)
            return HTTPResult(status: 200)
        }
    }

    func get(_ url: String, timeout: Duration) async throws(TransportError) -> HTTPResult {
        if url.hasSuffix("/readyz") { return HTTPResult(status: 200) }
        guard let range = url.range(of: "/ledger/") else { return HTTPResult(status: 404) }
        let user = String(url[range.upperBound...])
        let entry = state.withLock { $0.ledger[user] ?? (0, 0) }
        let count = entry.count + behaviour.ledgerCountOffset
        return HTTPResult(status: 200, body: Array(#"{"user_id":"\#(user)","payments":\#(count),"totals":{"USD":\#(entry.total)}}"#.utf8))
    }
}

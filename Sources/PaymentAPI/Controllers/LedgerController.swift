import Hummingbird
import HummingbirdCore
import PaymentCore

/// `GET /ledger/{user_id}[?offset=N&limit=N]`: what was charged to a user. The count and
/// totals per currency, `charges_total`, and the charges themselves, oldest first, at
/// most `limit` (default 100, at most 1,000) from `offset` (default 0), so a client can
/// check every payment key by key by paging with `offset += charges.length`.
struct LedgerController: Sendable {
    let store: any IdempotencyStore

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/ledger/{user_id}", use: ledger)
    }

    @Sendable func ledger(_ request: Request, context: AppRequestContext) async throws -> Response {
        let user = try UserID(context.parameters.require("user_id"))
        let window = try Self.window(request.uri.queryParameters)
        let ledger: Ledger
        do {
            ledger = try await store.ledger(for: user, tenant: context.tenant, charges: window)
        } catch {
            throw Problem.unavailable("the ledger could not be read: Redis is unavailable")
        }
        return PaymentResponses.json(Self.body(ledger))
    }

    /// `offset` and `limit` from the query, each at most once and all digits (no sign, no
    /// fraction, no exponent); any other parameter is ignored.
    static func window(_ query: FlatDictionary<Substring, Substring>) throws -> ChargeWindow {
        func integer(_ name: Substring, default value: Int, range: ClosedRange<Int>) throws -> Int {
            let values = query[values: name]
            guard let text = values.first else { return value }
            let rule = "\"\(name)\" must be an integer from \(range.lowerBound) to \(range.upperBound)"
            guard values.count == 1 else {
                throw Problem(.badRequest, slug: "invalid-query", title: "Invalid query parameter", detail: "\(rule), given once")
            }
            guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                  let number = Int(text), range.contains(number)
            else {
                throw Problem(.badRequest, slug: "invalid-query", title: "Invalid query parameter", detail: rule)
            }
            return number
        }
        let offset = try integer("offset", default: 0, range: 0...Int.max)
        let limit = try integer("limit", default: ChargeWindow.defaultLimit, range: 1...ChargeWindow.maximumLimit)
        return ChargeWindow(offset: offset, limit: limit)
    }

    static func body(_ ledger: Ledger) -> [UInt8] {
        var writer = JSONWriter()
        writer.object { object in
            object.field("user_id", string: ledger.userID.value)
            object.field("payments", integer: Int64(ledger.payments))
            object.field("totals") { totals in
                for (currency, total) in ledger.totals.sorted(by: { $0.key < $1.key }) {
                    totals.field(currency, integer: total)
                }
            }
            object.field("charges_total", integer: Int64(ledger.chargesTotal))
            object.field("charges", charges: ledger.charges)
        }
        return writer.bytes
    }
}

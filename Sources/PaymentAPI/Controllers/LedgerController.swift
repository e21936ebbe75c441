import Hummingbird
import HummingbirdCore
import PaymentCore
import StrictJSON

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
    /// fraction, no exponent); any other parameter is ignored. The rule is
    /// `ChargeWindowQuery`'s (pure, fuzzed); a refusal is a 400 `invalid-query` whose
    /// detail is the rule.
    static func window(_ query: FlatDictionary<Substring, Substring>) throws -> ChargeWindow {
        do {
            return try ChargeWindowQuery.window(offset: query[values: "offset"], limit: query[values: "limit"])
        } catch {
            throw Problem(.badRequest, slug: "invalid-query", title: "Invalid query parameter", detail: error.description)
        }
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
            object.field("unknown", unknown: ledger.unknown)
        }
        return writer.bytes
    }
}

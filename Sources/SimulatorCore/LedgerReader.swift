import PaymentCore
import StrictJSON

/// A user's ledger as `GET /ledger/{user}` shows it, every page of charges read.
struct LedgerSnapshot: Sendable, Hashable {
    struct Charge: Sendable, Hashable {
        let paymentID: String
        let key: String
        let amountMinor: Int64
        let currency: String
    }

    let payments: Int
    let totals: [String: Int64]
    /// `charges_total`: how many charges the server says it has.
    let chargesTotal: Int
    /// In the order charged.
    let charges: [Charge]
    /// Payments still in the unknown state (the processor did not say whether it charged,
    /// and the reconciler has not found out yet); empty for a server without `unknown`.
    var unknown: [Unknown] = []

    struct Unknown: Sendable, Hashable {
        let key: String
        let paymentID: String?
        /// When it became unknown, as the server wrote it (`since_ms 1767225600000`), for the report.
        let since: String?
    }
}

/// Reads a ledger page by page (`?offset=&limit=1000`, `offset` moving by what each page
/// held, so a server with a smaller page still gets read whole). The pages must agree on
/// count, totals and `charges_total`: a payment completing late (its client gave up
/// before the 200) between two pages restarts the read, so one snapshot is checked.
enum LedgerReader {
    static let pageLimit = 1_000
    /// Stops a server that claims endless charges; far above any run's payments × attempts.
    static let maximumCharges = 1_000_000

    static func read(user: String, target: String, transport: any SimulatorTransport) async -> LedgerSnapshot? {
        for attempt in 0..<5 {
            if attempt > 0 { try? await Task.sleep(for: .milliseconds(200 * attempt)) }
            if let snapshot = await readOnce(user: user, target: target, transport: transport) { return snapshot }
        }
        return nil
    }

    private static func readOnce(user: String, target: String, transport: any SimulatorTransport) async -> LedgerSnapshot? {
        var first: Page?
        var charges: [LedgerSnapshot.Charge] = []
        while true {
            let url = "\(target)/ledger/\(user)?offset=\(charges.count)&limit=\(pageLimit)"
            guard let result = try? await transport.get(url, timeout: .seconds(5)), result.status == 200,
                  let page = Page(result.body)
            else { return nil }
            if let first, first.payments != page.payments || first.totals != page.totals || first.chargesTotal != page.chargesTotal {
                return nil
            }
            first = first ?? page
            charges += page.charges ?? []
            // A server without `charges` (older than them) lists none: every confirmed key
            // then reads as lost, so a ledger that shows no charges can never pass.
            guard let listed = page.charges, !listed.isEmpty, charges.count < (page.chargesTotal ?? 0),
                  charges.count < maximumCharges
            else { break }
        }
        guard let first else { return nil }
        return LedgerSnapshot(payments: first.payments, totals: first.totals, chargesTotal: first.chargesTotal ?? charges.count, charges: charges,
                              unknown: first.unknown)
    }

    /// One response, strictly: a field of the wrong type makes the page unreadable.
    private struct Page {
        let payments: Int
        let totals: [String: Int64]
        let chargesTotal: Int?
        let charges: [LedgerSnapshot.Charge]?
        let unknown: [LedgerSnapshot.Unknown]

        init?(_ body: [UInt8]) {
            guard case .object(let fields)? = try? JSONParser.parse(body) else { return nil }
            func field(_ name: String) -> JSONValue? { fields.first(where: { $0.key == name })?.value }
            guard case .number(let count)? = field("payments"), let payments = Int(count),
                  case .object(let totalFields)? = field("totals")
            else { return nil }
            var totals: [String: Int64] = [:]
            for (currency, value) in totalFields {
                guard case .number(let text) = value, let total = Int64(text) else { return nil }
                totals[currency] = total
            }
            self.payments = payments
            self.totals = totals
            switch field("charges_total") {
            case nil: chargesTotal = nil
            case .number(let text)?:
                guard let total = Int(text) else { return nil }
                chargesTotal = total
            default: return nil
            }
            switch field("charges") {
            case nil: charges = nil
            case .array(let values)?:
                var charges: [LedgerSnapshot.Charge] = []
                for value in values {
                    guard let charge = Self.charge(value) else { return nil }
                    charges.append(charge)
                }
                self.charges = charges
            default: return nil
            }
            switch field("unknown") {
            case nil: unknown = []
            case .array(let values)?:
                var unknown: [LedgerSnapshot.Unknown] = []
                for value in values {
                    guard let entry = Self.unknown(value) else { return nil }
                    unknown.append(entry)
                }
                self.unknown = unknown
            default: return nil
            }
        }

        /// `{"idempotency_key", "payment_id", "since_ms"}`: the key is required, the others
        /// are shown when they are there (`since_ms`, or a `since` string or number).
        private static func unknown(_ value: JSONValue) -> LedgerSnapshot.Unknown? {
            guard case .object(let fields) = value else { return nil }
            func field(_ name: String) -> JSONValue? { fields.first(where: { $0.key == name })?.value }
            guard case .string(let key)? = field("idempotency_key") else { return nil }
            var paymentID: String?
            switch field("payment_id") {
            case nil, .null?: break
            case .string(let id)?: paymentID = id
            default: return nil
            }
            var since: String?
            switch (field("since"), field("since_ms")) {
            case (.string(let text)?, _), (.number(let text)?, _): since = text
            case (_, .number(let milliseconds)?): since = "since_ms \(milliseconds)"
            default: break
            }
            return LedgerSnapshot.Unknown(key: key, paymentID: paymentID, since: since)
        }

        private static func charge(_ value: JSONValue) -> LedgerSnapshot.Charge? {
            guard case .object(let fields) = value else { return nil }
            func field(_ name: String) -> JSONValue? { fields.first(where: { $0.key == name })?.value }
            guard case .string(let paymentID)? = field("payment_id"), case .string(let key)? = field("idempotency_key"),
                  case .number(let amount)? = field("amount_minor"), let amountMinor = Int64(amount),
                  case .string(let currency)? = field("currency")
            else { return nil }
            return LedgerSnapshot.Charge(paymentID: paymentID, key: key, amountMinor: amountMinor, currency: currency)
        }
    }
}

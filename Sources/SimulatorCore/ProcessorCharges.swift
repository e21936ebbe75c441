import PaymentCore
import StrictJSON

/// What the processor double's `GET /charges` lists: every charge it made, in order
/// (one reference more than once when it ignores idempotency keys), every key it
/// declined, and its request counters.
struct ProcessorCharges: Sendable, Hashable {
    struct Charge: Sendable, Hashable {
        let chargeID: String
        let idempotencyKey: String
        /// Our payment_id, as payment-api sent it.
        let reference: String
        let amountMinor: Int64
        let currency: String
    }

    struct Decline: Sendable, Hashable {
        let idempotencyKey: String
        let reference: String
        let amountMinor: Int64
        let currency: String
        let code: String
    }

    let charges: [Charge]
    let declined: [Decline]
    /// `requests`: name → count, shown in the report as the double counted them.
    let requests: [String: Int]

    /// One response, strictly: a member of the wrong type makes it unreadable, so a
    /// changed contract fails the run instead of reading as "no charges".
    init?(_ body: [UInt8]) {
        guard case .object(let fields)? = try? JSONParser.parse(body) else { return nil }
        func member(_ name: String, of fields: [(key: String, value: JSONValue)]) -> JSONValue? {
            fields.first(where: { $0.key == name })?.value
        }
        func string(_ name: String, of fields: [(key: String, value: JSONValue)]) -> String? {
            if case .string(let value)? = member(name, of: fields) { return value }
            return nil
        }
        func integer(_ name: String, of fields: [(key: String, value: JSONValue)]) -> Int64? {
            if case .number(let text)? = member(name, of: fields) { return Int64(text) }
            return nil
        }
        guard case .array(let chargeValues)? = member("charges", of: fields) else { return nil }
        var charges: [Charge] = []
        for value in chargeValues {
            guard case .object(let charge) = value,
                  let chargeID = string("charge_id", of: charge), let key = string("idempotency_key", of: charge),
                  let reference = string("reference", of: charge), let amount = integer("amount_minor", of: charge),
                  let currency = string("currency", of: charge)
            else { return nil }
            charges.append(Charge(chargeID: chargeID, idempotencyKey: key, reference: reference, amountMinor: amount, currency: currency))
        }
        var declined: [Decline] = []
        switch member("declined", of: fields) {
        case nil: break
        case .array(let values)?:
            for value in values {
                guard case .object(let decline) = value,
                      let key = string("idempotency_key", of: decline), let reference = string("reference", of: decline),
                      let amount = integer("amount_minor", of: decline), let currency = string("currency", of: decline)
                else { return nil }
                declined.append(Decline(idempotencyKey: key, reference: reference, amountMinor: amount, currency: currency,
                                        code: string("code", of: decline) ?? ""))
            }
        default: return nil
        }
        var requests: [String: Int] = [:]
        if case .object(let counters)? = member("requests", of: fields) {
            for (name, value) in counters {
                if case .number(let text) = value, let count = Int(text) { requests[name] = count }
            }
        }
        self.charges = charges
        self.declined = declined
        self.requests = requests
    }

    init(charges: [Charge], declined: [Decline] = [], requests: [String: Int] = [:]) {
        self.charges = charges
        self.declined = declined
        self.requests = requests
    }
}

/// Reads `GET {processor}/charges`, retrying a few times as the ledger reader does: the
/// double may still be answering the run's last requests.
enum ProcessorChargesReader {
    /// The list is not paged: room for about 300,000 charges.
    static let maximumBodyBytes = 64 << 20

    static func read(processorURL: String, transport: any SimulatorTransport) async -> Result<ProcessorCharges, ReadError> {
        let base = processorURL.hasSuffix("/") ? String(processorURL.dropLast()) : processorURL
        var lastError = ReadError(reason: "not read")
        for attempt in 0..<5 {
            if attempt > 0 { try? await Task.sleep(for: .milliseconds(200 * attempt)) }
            do {
                let result = try await transport.getExternal(base + "/charges", timeout: .seconds(10), maximumBodyBytes: maximumBodyBytes)
                guard result.status == 200 else {
                    lastError = ReadError(reason: "GET \(base)/charges answered \(result.status)")
                    continue
                }
                guard let charges = ProcessorCharges(result.body) else {
                    // A body not as the contract says will not improve with retries.
                    return .failure(ReadError(reason: "GET \(base)/charges: the body is not the processor's charges list"))
                }
                return .success(charges)
            } catch {
                lastError = ReadError(reason: "GET \(base)/charges: \(error.label)")
            }
        }
        return .failure(lastError)
    }

    struct ReadError: Error, Sendable, Hashable {
        let reason: String
    }
}

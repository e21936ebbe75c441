import PaymentCore
import RedisClient

/// The ledger read: the count and totals from `pay:{u}:ledger`, a window of
/// `pay:{u}:charges`, and the list's length, in one script.
extension RedisIdempotencyStore {
    public func ledger(for user: UserID, tenant: Tenant?, charges window: ChargeWindow) async throws -> Ledger {
        let reply = try await client.evaluate(
            LedgerScript.read,
            keys: [
                .string(keys.ledger(user, tenant: tenant)), .string(keys.charges(user, tenant: tenant)), .string(keys.unknown(user, tenant: tenant)),
            ],
            arguments: [.integer(window.offset), .integer(window.lastIndex), .integer(ChargeWindow.maximumLimit - 1)]
        )
        guard let parts = reply.array, parts.count == 4, let flat = parts[0].array, flat.count.isMultiple(of: 2),
              let chargesTotal = parts[1].int, let entries = parts[2].array, let unknownFlat = parts[3].array,
              unknownFlat.count.isMultiple(of: 2)
        else { throw Self.unexpected("ledger", reply) }
        var payments = 0
        var totals: [String: Int64] = [:]
        for index in stride(from: 0, to: flat.count, by: 2) {
            guard let field = flat[index].string, let value = flat[index + 1].int else { throw Self.unexpected("ledger", reply) }
            if field == "count" {
                payments = value
            } else if field.hasPrefix("total:") {
                totals[String(field.dropFirst("total:".count))] = Int64(value)
            }
        }
        let charges = try entries.map { entry in
            guard let text = entry.string, let charge = Self.charge(text) else { throw Self.unexpected("ledger", reply) }
            return charge
        }
        let unknown = try stride(from: 0, to: unknownFlat.count, by: 2).map { index in
            guard let member = unknownFlat[index].string, let since = unknownFlat[index + 1].string.flatMap({ Int64($0) }),
                  let space = member.firstIndex(of: " ")
            else { throw Self.unexpected("ledger", reply) }
            return UnknownPayment(
                paymentID: String(member[..<space]), idempotencyKey: String(member[member.index(after: space)...]), sinceMilliseconds: since
            )
        }
        return Ledger(userID: user, payments: payments, totals: totals, chargesTotal: chargesTotal, charges: charges, unknown: unknown)
    }

    /// `"<payment_id> <amount_minor> <CUR> <idempotency key>[\t<charge id>]"`, as
    /// `complete` writes it. The key is last but for the charge id, because it may hold
    /// spaces: everything after the third space is it, up to a tab (never in a key).
    static func charge(_ entry: String) -> Charge? {
        var main = Substring(entry)
        var chargeID: String?
        if let tab = entry.firstIndex(of: "\t") {
            (main, chargeID) = (entry[..<tab], String(entry[entry.index(after: tab)...]))
        }
        let parts = main.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4, !parts[0].isEmpty, let amount = Int64(parts[1]), !parts[2].isEmpty, !parts[3].isEmpty else { return nil }
        return Charge(
            paymentID: String(parts[0]), idempotencyKey: String(parts[3]), amountMinor: amount, currency: String(parts[2]), chargeID: chargeID
        )
    }
}

/// `complete` changes the count, the totals and the charges list in one script; reading
/// them in one script too means no `complete` lands between the reads, so the count
/// always equals the list's length. (Separate commands, even pipelined, could see a
/// charge in the list that the count does not have yet.) Both keys carry the user's hash
/// tag, so in a cluster they are on one slot.
///
/// Not in `PaymentScripts.all`: payments do not need it, so readiness does not wait for
/// it; `evaluate` loads it on first use (NOSCRIPT → SCRIPT LOAD).
enum LedgerScript {
    /// KEYS[1] ledger hash, KEYS[2] charges list, KEYS[3] the user's unknown payments.
    /// ARGV[1] first index, ARGV[2] last index (LRANGE's, inclusive; computed in Swift, so
    /// Lua does no arithmetic on them), ARGV[3] last index of the unknown payments.
    /// Reply: {HGETALL of the ledger (flat), LLEN of the charges, LRANGE of the window,
    /// ZRANGE of the unknown payments WITHSCORES (flat)}.
    static let read = RedisScript(name: "ledger_read", """
        return {redis.call('HGETALL', KEYS[1]), redis.call('LLEN', KEYS[2]), redis.call('LRANGE', KEYS[2], ARGV[1], ARGV[2]),
                redis.call('ZRANGE', KEYS[3], 0, ARGV[3], 'WITHSCORES')}
        """)
}

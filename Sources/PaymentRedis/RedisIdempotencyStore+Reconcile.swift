import Foundation
import PaymentCore
import RedisClient

/// The reconciler's queue on Redis: `pay:reconcile` (due) and `pay:reconcile:unresolved`,
/// sorted sets of "<tenant>\0<user>\0<key>" scored by the time (ms) they are due. The
/// records themselves say what is true; the queue only says where to look, so an entry
/// whose record is done or gone is simply removed.
extension RedisIdempotencyStore: UnknownPaymentQueue {
    public func due(limit: Int) async throws -> [UnknownPaymentReference] {
        let reply = try await client.send(
            "ZRANGEBYSCORE", .string(keys.reconcileQueue), .string("-inf"), .integer(Self.nowMilliseconds()),
            .string("LIMIT"), .integer(0), .integer(limit)
        )
        guard let members = reply.array else { throw Self.unexpected("ZRANGEBYSCORE", reply) }
        var references: [UnknownPaymentReference] = []
        for member in members {
            guard let text = member.string else { continue }
            if let reference = Self.reference(text) {
                references.append(reference)
            } else {
                // Not one of ours (written by hand?): it names no record; drop it.
                _ = try? await client.send("ZREM", .string(keys.reconcileQueue), .string(text))
            }
        }
        return references
    }

    public func claim(_ reference: UnknownPaymentReference, owner: String, lease: Duration, retention: Duration) async throws -> UnknownClaim {
        let probe = Self.probe(reference)
        let reply = try await client.evaluate(
            PaymentScripts.claim,
            keys: [.string(keys.idempotency(probe)), .string(keys.fence(probe))],
            arguments: [.string(owner), .integer(lease.milliseconds), .integer(max(1, Int(retention.components.seconds)))]
        )
        guard let fields = reply.array, let kind = fields.first?.string else { throw Self.unexpected("claim", reply) }
        switch kind {
        case "settled": return .settled
        case "busy": return .busy
        case "claimed":
            guard fields.count == 8, let fence = fields[1].int, let fingerprint = fields[2].string, let processorKey = fields[3].string,
                  let paymentID = fields[4].string, let amount = fields[5].string.flatMap({ Int64($0) }),
                  let currency = fields[6].string.flatMap(Currency.init(code:)), let attempts = fields[7].int
            else { throw Self.unexpected("claim", reply) }
            let request = PaymentRequest(
                userID: reference.userID, amountMinor: amount, currency: currency, idempotencyKey: reference.idempotencyKey, tenant: reference.tenant
            )
            // The fingerprint is of (user, amount, currency): a record whose stored amount
            // does not give it back was not written by us, and is not ours to resolve.
            guard request.fingerprint == fingerprint else { throw Self.unexpected("claim (fingerprint)", reply) }
            return .claimed(ClaimedUnknownPayment(
                reference: reference, request: request, identity: PaymentIdentity(paymentID: paymentID, processorKey: processorKey),
                lease: Lease(owner: owner, fence: Int64(fence)), attempts: attempts
            ))
        default:
            throw Self.unexpected("claim", reply)
        }
    }

    public func release(_ payment: ClaimedUnknownPayment) async throws -> Bool {
        let request = payment.request
        let reply = try await client.evaluate(
            PaymentScripts.release,
            keys: [.string(keys.idempotency(request)), .string(keys.unknown(request.userID, tenant: request.tenant))],
            arguments: [.string(payment.lease.owner), .integer(Int(payment.lease.fence)), .string(Self.unknownMember(request, payment.identity))]
        )
        return reply == .integer(1)
    }

    public func reschedule(_ reference: UnknownPaymentReference, after delay: Duration) async throws {
        try await schedule(reference, in: keys.reconcileQueue, after: delay)
    }

    public func remove(_ reference: UnknownPaymentReference) async throws {
        let member = Self.queueMember(reference)
        _ = try await client.send("ZREM", .string(keys.reconcileQueue), .string(member))
        _ = try await client.send("ZREM", .string(keys.unresolvedQueue), .string(member))
    }

    public func counts() async throws -> UnknownCounts {
        let pending = try await client.send("ZCARD", .string(keys.reconcileQueue))
        let unresolved = try await client.send("ZCARD", .string(keys.unresolvedQueue))
        guard let pendingCount = pending.int, let unresolvedCount = unresolved.int else { throw Self.unexpected("ZCARD", pending) }
        return UnknownCounts(pending: pendingCount, unresolved: unresolvedCount)
    }

    public func sweepUnresolved(limit: Int) async throws -> Int {
        let reply = try await client.send("ZRANGE", .string(keys.unresolvedQueue), .integer(0), .integer(limit - 1))
        guard let members = reply.array else { throw Self.unexpected("ZRANGE", reply) }
        var removed = 0
        for member in members {
            guard let text = member.string else { continue }
            if let reference = Self.reference(text) {
                let state = try await client.send("HGET", .string(keys.idempotency(Self.probe(reference))), .string("state"))
                if state.string == "unknown" || state.string == "inflight" { continue }
            }
            _ = try await client.send("ZREM", .string(keys.unresolvedQueue), .string(text))
            removed += 1
        }
        return removed
    }

    func schedule(_ reference: UnknownPaymentReference, in queue: String, after delay: Duration) async throws {
        _ = try await client.send(
            "ZADD", .string(queue), .integer(Self.nowMilliseconds() + delay.milliseconds), .string(Self.queueMember(reference))
        )
    }

    /// "<tenant>\0<user>\0<key>": a zero byte occurs in none of them (printable ASCII).
    static func queueMember(_ reference: UnknownPaymentReference) -> String {
        "\(reference.tenant?.name ?? "")\u{0}\(reference.userID.value)\u{0}\(reference.idempotencyKey.value)"
    }

    static func reference(_ member: String) -> UnknownPaymentReference? {
        let parts = member.split(separator: "\u{0}", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        let tenant: Tenant?
        if parts[0].isEmpty {
            tenant = nil
        } else {
            guard let named = Tenant(String(parts[0])) else { return nil }
            tenant = named
        }
        guard let user = try? UserID(String(parts[1])), let key = try? IdempotencyKey(String(parts[2])) else { return nil }
        return UnknownPaymentReference(tenant: tenant, userID: user, idempotencyKey: key)
    }

    /// A request that names the reference's keys (the key layout needs only user, tenant
    /// and idempotency key).
    static func probe(_ reference: UnknownPaymentReference) -> PaymentRequest {
        PaymentRequest(userID: reference.userID, amountMinor: 1, currency: .usd, idempotencyKey: reference.idempotencyKey, tenant: reference.tenant)
    }

    /// The queue's clock: the pod's. Replicas' clocks differ by far less than the
    /// reconciler's delay, and only when an entry is looked at depends on it.
    static func nowMilliseconds() -> Int {
        Int(Date().timeIntervalSince1970 * 1000)
    }
}

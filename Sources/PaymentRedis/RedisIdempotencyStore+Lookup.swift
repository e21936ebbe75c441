import NIOCore
import PaymentCore
import RedisClient

/// The lookup by payment id. The id is an HMAC of (tenant, user, key), which cannot be
/// inverted, so `pay:pid:<id>` says which record it is: the reconciler queue's member
/// "<tenant>\0<user>\0<key>". It is on a slot of its own, so it cannot be written by the
/// record's script: the flow writes it as a step of its own, before the processor is
/// asked. An entry may outlive what it names (the attempt was aborted, or the key was
/// released and used again); the record decides, and it must be the id asked for.
extension RedisIdempotencyStore {
    public func index(_ request: PaymentRequest, identity: PaymentIdentity, retention: Duration) async throws {
        try await index(request, identity: identity, retention: retention, on: client.eventLoopGroup.any()).get()
    }

    /// `SET pay:pid:<id> <member> EX <2 × retention>`: longer than the record it names,
    /// whose retention counts from its last write, an attempt's length after this one (a
    /// stale entry costs nothing: the record decides). Fails unless Redis answers OK.
    public func index(_ request: PaymentRequest, identity: PaymentIdentity, retention: Duration, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let key = RESPArgument.string(keys.paymentIndex(identity.paymentID))
        let member = Self.queueMember(UnknownPaymentReference(request))
        let seconds = 2 * max(1, Int(retention.components.seconds))
        return client.send(RedisCommand("SET", key, .string(member), "EX", .integer(seconds)), routingKey: key, on: eventLoop)
            .flatMapThrowing { reply in
                guard reply == .simpleString("OK") else { throw RedisClientError(.protocol, "SET of a payment id's index answered \(reply)") }
            }
    }

    /// The index, then the record it names, each one read-only command: HMGET reads the
    /// record's fields at one instant, and nothing here writes.
    public func lookup(paymentID: String, tenant: Tenant?, secret: PaymentIdentity.Secret) async throws -> PaymentLookup? {
        let entry = try await client.send("GET", .string(keys.paymentIndex(paymentID)))
        // An entry that is not one of ours names no record (as in the reconciler's queue).
        guard let member = entry.string, let reference = Self.reference(member), reference.tenant == tenant else { return nil }
        let record = RESPArgument.string(keys.idempotency(Self.probe(reference)))
        let names = ["state", "pid", "amount", "cur", "status", "body", "created", "updated"]
        let reply = try await client.send(RedisCommand("HMGET", [record] + names.map { .string($0) }), routingKey: record)
        guard let values = reply.array, values.count == names.count else { throw Self.unexpected("HMGET of a payment's record", reply) }
        var body: [UInt8]?
        if case .bulkString(let bytes) = values[5] { body = Array(bytes.readableBytesView) }
        let fields = PaymentRecordFields(
            state: values[0].string, paymentID: values[1].string, amountMinor: values[2].string.flatMap { Int64($0) },
            currency: values[3].string, status: values[4].int, body: body, created: values[6].string.flatMap { Int64($0) },
            updated: values[7].string.flatMap { Int64($0) }
        )
        return PaymentLookup(paymentID: paymentID, record: fields, of: reference, secret: secret)
    }
}

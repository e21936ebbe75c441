import NIOCore
import PaymentCore
import RedisClient

/// The idempotency store, per-key lock and ledger on Redis: one EVALSHA per step.
public struct RedisIdempotencyStore: IdempotencyStore {
    public let client: RedisClient
    public let keys: PaymentKeys
    /// nil: a commit is acknowledged by the master alone (`REDIS_WAIT_REPLICAS=0`).
    public let acknowledgement: ReplicaAcknowledgement?

    public init(client: RedisClient, keys: PaymentKeys = PaymentKeys(), acknowledgement: ReplicaAcknowledgement? = nil) {
        self.client = client
        self.keys = keys
        self.acknowledgement = acknowledgement
    }

    // The payment's steps are written once, as futures on the caller's event loop (the
    // server's fast path); the async methods wait for them.

    public func begin(_ request: PaymentRequest, owner: String, lease: Duration, retention: Duration, rateLimit: RateLimitPolicy?) async throws -> BeginResult {
        try await begin(request, owner: owner, lease: lease, retention: retention, rateLimit: rateLimit, on: client.eventLoopGroup.any()).get()
    }

    public func begin(
        _ request: PaymentRequest, owner: String, lease: Duration, retention: Duration, rateLimit: RateLimitPolicy?, on eventLoop: any EventLoop
    ) -> EventLoopFuture<BeginResult> {
        client.evaluate(
            PaymentScripts.begin,
            keys: [
                .string(keys.idempotency(request)), .string(keys.bucket(request.userID, tenant: request.tenant)),
                .string(keys.fence(request)),
            ],
            arguments: [
                .string(request.fingerprint), .string(owner), .integer(lease.milliseconds),
                .integer(rateLimit?.capacity ?? 0), .integer(rateLimit?.refillPerSecond ?? 0),
                .integer(max(1, Int(retention.components.seconds))), .integer(Int(request.amountMinor)), .string(request.currency.code),
            ],
            on: eventLoop
        ) { reply in try Self.begun(reply, owner: owner, rateLimit: rateLimit) }
    }

    /// What `begin`'s reply says.
    private static func begun(_ reply: RESPValue, owner: String, rateLimit: RateLimitPolicy?) throws -> BeginResult {
        guard let fields = reply.array, let kind = fields.first?.string else { throw Self.unexpected("begin", reply) }
        func int(_ index: Int) throws -> Int {
            guard index < fields.count, let value = fields[index].int else { throw Self.unexpected("begin", reply) }
            return value
        }
        func status(left: Int, reset: Int) -> RateLimitStatus? {
            guard let rateLimit, left >= 0 else { return nil }
            return RateLimitStatus(policy: rateLimit, remaining: left, resetMilliseconds: reset)
        }
        switch kind {
        case "acquired":
            let lease = Lease(owner: owner, fence: Int64(try int(1)))
            let rateLimitStatus = status(left: try int(2), reset: try int(3))
            guard fields.count == 6 else { return .acquired(lease, rateLimit: rateLimitStatus) }
            guard let processorKey = fields[4].string, let paymentID = fields[5].string else { throw Self.unexpected("begin", reply) }
            return .redrive(lease, rateLimit: rateLimitStatus, earlier: PaymentIdentity(paymentID: paymentID, processorKey: processorKey))
        case "replay":
            guard fields.count == 5, case .bulkString(let body) = fields[2] else { throw Self.unexpected("begin", reply) }
            let response = StoredResponse(status: try int(1), body: Array(body.readableBytesView))
            return .replay(response, rateLimit: status(left: try int(3), reset: try int(4)))
        case "mismatch":
            return .fingerprintMismatch
        case "inflight":
            return .inFlight(retryAfterMilliseconds: try int(1))
        case "limited":
            guard let rateLimit else { throw Self.unexpected("begin", reply) }
            let status = RateLimitStatus(policy: rateLimit, remaining: 0, resetMilliseconds: try int(2))
            return .rateLimited(status, retryAfterMilliseconds: try int(1))
        default:
            throw Self.unexpected("begin", reply)
        }
    }

    public func complete(
        _ request: PaymentRequest, lease: Lease, response: StoredResponse, charge: LedgerCharge?, identity: PaymentIdentity, retention: Duration
    ) async throws -> CompleteResult {
        try await complete(
            request, lease: lease, response: response, charge: charge, identity: identity, retention: retention, on: client.eventLoopGroup.any()
        ).get()
    }

    public func complete(
        _ request: PaymentRequest, lease: Lease, response: StoredResponse, charge: LedgerCharge?, identity: PaymentIdentity, retention: Duration,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<CompleteResult> {
        evaluateAcknowledged(
            PaymentScripts.complete,
            keys: [
                .string(keys.idempotency(request)), .string(keys.ledger(request.userID, tenant: request.tenant)),
                .string(keys.charges(request.userID, tenant: request.tenant)), .string(keys.unknown(request.userID, tenant: request.tenant)),
            ],
            arguments: [
                .string(lease.owner), .integer(Int(lease.fence)), .integer(response.status), .bytes(ByteBuffer(bytes: response.body)),
                .integer(Int(retention.components.seconds)), .string(request.currency.code), .integer(Int(request.amountMinor)),
                .string(charge?.paymentID ?? ""), .string(request.idempotencyKey.value), .string(charge?.chargeID ?? ""),
                .string(Self.unknownMember(request, identity)),
            ],
            on: eventLoop
        ) { reply, shortfall in
            switch reply {
            case .integer(1): return shortfall.map(CompleteResult.notReplicated) ?? .committed
            case .integer(0): return .leaseLost
            default: throw Self.unexpected("complete", reply)
            }
        }
    }

    /// The queue first, then the record: the queue is on another slot, so the two cannot
    /// be one script in a cluster, and a record marked unknown must never miss its queue
    /// entry (a queue entry whose record is not unknown is found `settled` or `busy`).
    public func markUnknown(
        _ request: PaymentRequest, lease: Lease, identity: PaymentIdentity, retention: Duration, followUp: UnknownFollowUp
    ) async throws -> Bool {
        let reference = UnknownPaymentReference(request)
        let attempts: Int?
        switch followUp {
        case .recheck(let after, let count):
            attempts = count
            try await schedule(reference, in: keys.reconcileQueue, after: after)
        case .unresolved(let count):
            attempts = count
            try await schedule(reference, in: keys.unresolvedQueue, after: .zero)
            _ = try await client.send("ZREM", .string(keys.reconcileQueue), .string(Self.queueMember(reference)))
        }
        let reply = try await client.evaluate(
            PaymentScripts.markUnknown,
            keys: [.string(keys.idempotency(request)), .string(keys.unknown(request.userID, tenant: request.tenant))],
            arguments: [
                .string(lease.owner), .integer(Int(lease.fence)), .integer(max(1, Int(retention.components.seconds))),
                .string(identity.processorKey), .string(identity.paymentID), .integer(Int(request.amountMinor)),
                .string(request.currency.code), .string(Self.unknownMember(request, identity)), .string(attempts.map(String.init) ?? ""),
            ]
        )
        return reply == .integer(1)
    }

    /// The member of `pay:{u}:unknown`: the payment id, a space, the key (which may hold
    /// spaces, so it comes last).
    static func unknownMember(_ request: PaymentRequest, _ identity: PaymentIdentity) -> String {
        "\(identity.paymentID) \(request.idempotencyKey.value)"
    }

    public func confirmReplay(_ request: PaymentRequest) async throws -> ReplayCheck {
        try await confirmReplay(request, on: client.eventLoopGroup.any()).get()
    }

    public func confirmReplay(_ request: PaymentRequest, on eventLoop: any EventLoop) -> EventLoopFuture<ReplayCheck> {
        guard acknowledgement != nil else { return eventLoop.makeSucceededFuture(.confirmed) }
        return evaluateAcknowledged(
            PaymentScripts.confirmReplay, keys: [.string(keys.idempotency(request))], arguments: [], on: eventLoop
        ) { reply, shortfall in
            switch reply {
            case .integer(1): return shortfall.map(ReplayCheck.notReplicated) ?? .confirmed
            case .integer(0): return .gone
            default: throw Self.unexpected("confirm replay", reply)
            }
        }
    }

    /// A script, and with replicas required its WAIT on the acknowledgement client; the
    /// shortfall when fewer replicas than required acknowledged it in time. WAIT runs on
    /// the acknowledgement client's own connections, in a task.
    private func evaluateAcknowledged<Value: Sendable>(
        _ script: RedisScript, keys: [RESPArgument], arguments: [RESPArgument], on eventLoop: any EventLoop,
        decode: @escaping @Sendable (RESPValue, ReplicaShortfall?) throws -> Value
    ) -> EventLoopFuture<Value> {
        guard let acknowledgement else {
            return client.evaluate(script, keys: keys, arguments: arguments, on: eventLoop) { try decode($0, nil) }
        }
        return eventLoop.makeFutureWithTask {
            let (reply, acknowledged) = try await acknowledgement.client.evaluate(
                script, keys: keys, arguments: arguments, waitingFor: acknowledgement.replicas, timeout: acknowledgement.timeout
            )
            guard acknowledged < acknowledgement.replicas else { return try decode(reply, nil) }
            return try decode(reply, ReplicaShortfall(acknowledged: acknowledged, required: acknowledgement.replicas))
        }
    }

    @discardableResult
    public func abort(_ request: PaymentRequest, lease: Lease) async throws -> Bool {
        try await abort(request, lease: lease, on: client.eventLoopGroup.any()).get()
    }

    public func abort(_ request: PaymentRequest, lease: Lease, on eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        abort(request, owner: lease.owner, fence: .integer(Int(lease.fence)), on: eventLoop)
    }

    public func abandon(_ request: PaymentRequest, owner: String) async throws {
        try await abandon(request, owner: owner, on: client.eventLoopGroup.any()).get()
    }

    public func abandon(_ request: PaymentRequest, owner: String, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        abort(request, owner: owner, fence: .string(""), on: eventLoop).map { _ in }
    }

    private func abort(_ request: PaymentRequest, owner: String, fence: RESPArgument, on eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        client.evaluate(
            PaymentScripts.abort,
            keys: [.string(keys.idempotency(request))],
            arguments: [.string(owner), fence],
            on: eventLoop
        ) { $0 == .integer(1) }
    }

    public func extend(_ request: PaymentRequest, lease: Lease, to duration: Duration) async throws -> Bool {
        try await extend(request, lease: lease, to: duration, on: client.eventLoopGroup.any()).get()
    }

    public func extend(_ request: PaymentRequest, lease: Lease, to duration: Duration, on eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        client.evaluate(
            PaymentScripts.extend,
            keys: [.string(keys.idempotency(request))],
            arguments: [.string(lease.owner), .integer(Int(lease.fence)), .integer(duration.milliseconds)],
            on: eventLoop
        ) { $0 == .integer(1) }
    }

    static func unexpected(_ step: String, _ reply: RESPValue) -> RedisClientError {
        RedisClientError(.protocol, "\(step) script answered an unexpected \(reply)")
    }
}

extension Duration {
    /// Whole milliseconds, rounded up so a lease is never shorter than asked.
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int((attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
    }
}

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

    public func begin(_ request: PaymentRequest, owner: String, lease: Duration, retention: Duration, rateLimit: RateLimitPolicy?) async throws -> BeginResult {
        let reply = try await client.evaluate(
            PaymentScripts.begin,
            keys: [
                .string(keys.idempotency(request)), .string(keys.bucket(request.userID, tenant: request.tenant)),
                .string(keys.fence(request)),
            ],
            arguments: [
                .string(request.fingerprint), .string(owner), .integer(lease.milliseconds),
                .integer(rateLimit?.capacity ?? 0), .integer(rateLimit?.refillPerSecond ?? 0),
                .integer(max(1, Int(retention.components.seconds))),
            ]
        )
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
            return .acquired(Lease(owner: owner, fence: Int64(try int(1))), rateLimit: status(left: try int(2), reset: try int(3)))
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

    public func complete(_ request: PaymentRequest, lease: Lease, response: StoredResponse, charge paymentID: String?, retention: Duration) async throws -> CompleteResult {
        let (reply, shortfall) = try await evaluateAcknowledged(
            PaymentScripts.complete,
            keys: [
                .string(keys.idempotency(request)), .string(keys.ledger(request.userID, tenant: request.tenant)),
                .string(keys.charges(request.userID, tenant: request.tenant)),
            ],
            arguments: [
                .string(lease.owner), .integer(Int(lease.fence)), .integer(response.status), .bytes(ByteBuffer(bytes: response.body)),
                .integer(Int(retention.components.seconds)), .string(request.currency.code), .integer(Int(request.amountMinor)),
                .string(paymentID ?? ""), .string(request.idempotencyKey.value),
            ]
        )
        switch reply {
        case .integer(1): return shortfall.map(CompleteResult.notReplicated) ?? .committed
        case .integer(0): return .leaseLost
        default: throw Self.unexpected("complete", reply)
        }
    }

    public func confirmReplay(_ request: PaymentRequest) async throws -> ReplayCheck {
        guard acknowledgement != nil else { return .confirmed }
        let (reply, shortfall) = try await evaluateAcknowledged(
            PaymentScripts.confirmReplay, keys: [.string(keys.idempotency(request))], arguments: []
        )
        switch reply {
        case .integer(1): return shortfall.map(ReplayCheck.notReplicated) ?? .confirmed
        case .integer(0): return .gone
        default: throw Self.unexpected("confirm replay", reply)
        }
    }

    /// A script, and with replicas required its WAIT on the acknowledgement client; the
    /// shortfall when fewer replicas than required acknowledged it in time.
    private func evaluateAcknowledged(
        _ script: RedisScript, keys: [RESPArgument], arguments: [RESPArgument]
    ) async throws -> (RESPValue, ReplicaShortfall?) {
        guard let acknowledgement else {
            return (try await client.evaluate(script, keys: keys, arguments: arguments), nil)
        }
        let (reply, acknowledged) = try await acknowledgement.client.evaluate(
            script, keys: keys, arguments: arguments, waitingFor: acknowledgement.replicas, timeout: acknowledgement.timeout
        )
        guard acknowledged < acknowledgement.replicas else { return (reply, nil) }
        return (reply, ReplicaShortfall(acknowledged: acknowledged, required: acknowledgement.replicas))
    }

    @discardableResult
    public func abort(_ request: PaymentRequest, lease: Lease) async throws -> Bool {
        try await abort(request, owner: lease.owner, fence: .integer(Int(lease.fence)))
    }

    public func abandon(_ request: PaymentRequest, owner: String) async throws {
        try await abort(request, owner: owner, fence: .string(""))
    }

    private func abort(_ request: PaymentRequest, owner: String, fence: RESPArgument) async throws -> Bool {
        let reply = try await client.evaluate(
            PaymentScripts.abort,
            keys: [.string(keys.idempotency(request))],
            arguments: [.string(owner), fence]
        )
        return reply == .integer(1)
    }

    public func extend(_ request: PaymentRequest, lease: Lease, to duration: Duration) async throws -> Bool {
        let reply = try await client.evaluate(
            PaymentScripts.extend,
            keys: [.string(keys.idempotency(request))],
            arguments: [.string(lease.owner), .integer(Int(lease.fence)), .integer(duration.milliseconds)]
        )
        return reply == .integer(1)
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

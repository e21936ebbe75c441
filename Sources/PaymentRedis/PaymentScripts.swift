import RedisClient

/// The Lua scripts of the payment flow. Each states its KEYS, ARGV and replies. Shared
/// functions are prepended in Swift, so each piece of logic is written once.
public enum PaymentScripts {
    /// Redis's clock, never the pod's: every replica sees the same time.
    static let clock = """
        local function now_ms()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end

        """

    /// A token bucket kept in milli-tokens so that refill is integer arithmetic.
    /// Returns {allowed 1|0, whole tokens left, retry_after_ms, reset_ms}. A refused
    /// request writes nothing; the key expires once the bucket would be full.
    static let tokenBucketFunction = """
        local function take_token(key, capacity, refill, now)
          local full = capacity * 1000
          local state = redis.call('HMGET', key, 't', 'ts')
          local tokens = full
          if state[1] then
            local elapsed = math.max(0, now - tonumber(state[2]))
            tokens = math.min(full, tonumber(state[1]) + elapsed * refill)
          end
          if tokens < 1000 then
            return {0, 0, math.ceil((1000 - tokens) / refill), math.ceil((full - tokens) / refill)}
          end
          tokens = tokens - 1000
          local reset = math.ceil((full - tokens) / refill)
          redis.call('HSET', key, 't', tokens, 'ts', now)
          redis.call('PEXPIRE', key, math.max(1, reset))
          return {1, math.floor(tokens / 1000), 0, reset}
        end

        """

    /// True while the in-flight record is held by this owner and fencing token. A record
    /// that was ever unknown keeps its retention TTL while in flight again, so its lease
    /// is the field `until` (Redis ms) rather than the key's TTL; needs `now_ms`.
    static let leaseFunction = """
        local function holds(key, owner, fence)
          local r = redis.call('HMGET', key, 'state', 'owner', 'fence', 'until')
          if r[1] ~= 'inflight' or r[2] ~= owner or r[3] ~= fence then return false end
          return not r[4] or tonumber(r[4]) > now_ms()
        end

        """

    /// A new fence for a key, above its last one and Redis's clock in ms: it grows across
    /// takeovers, and a fence key lost in a failover does not make it repeat (unless the
    /// new master's clock is behind the old one's). Needs `now_ms`.
    static let fenceFunction = """
        local function next_fence(fence_key, retention)
          local fence = math.max((tonumber(redis.call('GET', fence_key)) or 0) + 1, now_ms())
          -- As digits: Lua's default number-to-text would shorten it to 14 significant digits.
          local text = string.format('%d', fence)
          redis.call('SET', fence_key, text, 'EX', retention)
          return fence, text
        end

        """

    /// KEYS[1] idempotency record, KEYS[2] user bucket, KEYS[3] the key's fence.
    /// ARGV[1] fingerprint, ARGV[2] owner token, ARGV[3] lease ms,
    /// ARGV[4] bucket capacity (0: no limit), ARGV[5] refill per second,
    /// ARGV[6] fence retention s, ARGV[7] amount minor, ARGV[8] currency.
    /// A new record keeps its amount, currency and `created` (Redis ms) for a lookup by
    /// payment id (RedisIdempotencyStore+Lookup.swift).
    /// A record in the unknown state (or in flight again after one, with its lease run
    /// out) is taken again by the same fingerprint: the charge is re-driven at once with
    /// the processor key stored with it; another fingerprint gets 'mismatch'.
    /// Replies: {'acquired', fence, tokens_left, reset_ms} | {'acquired', fence,
    /// tokens_left, reset_ms, processor key, payment id} (a re-drive of an unknown) |
    /// {'replay', status, body, tokens_left, reset_ms} | {'mismatch'} |
    /// {'inflight', lease_left_ms} | {'limited', retry_after_ms, reset_ms}.
    /// tokens_left is -1 without a limit.
    public static let begin = RedisScript(name: "begin", clock + tokenBucketFunction + fenceFunction + """
        local left, reset = -1, 0
        local capacity = tonumber(ARGV[4])
        if capacity > 0 then
          local taken = take_token(KEYS[2], capacity, tonumber(ARGV[5]), now_ms())
          if taken[1] == 0 then
            return {'limited', taken[3], taken[4]}
          end
          left, reset = taken[2], taken[4]
        end
        local r = redis.call('HMGET', KEYS[1], 'state', 'fp', 'status', 'body', 'until', 'pk', 'pid')
        if r[1] == 'done' then
          if r[2] ~= ARGV[1] then return {'mismatch'} end
          return {'replay', tonumber(r[3]), r[4], left, reset}
        elseif r[1] == 'inflight' or r[1] == 'unknown' then
          if r[2] ~= ARGV[1] then return {'mismatch'} end
          if r[1] == 'inflight' then
            if not r[5] then return {'inflight', math.max(redis.call('PTTL', KEYS[1]), 1)} end
            local lease_left = tonumber(r[5]) - now_ms()
            if lease_left > 0 then return {'inflight', lease_left} end
          end
          -- Unknown, or a re-drive whose holder is gone: drive it again. The record keeps
          -- its retention TTL; the lease is `until`.
          local fence, text = next_fence(KEYS[3], ARGV[6])
          redis.call('HSET', KEYS[1], 'state', 'inflight', 'owner', ARGV[2], 'fence', text, 'until', string.format('%d', now_ms() + tonumber(ARGV[3])))
          return {'acquired', fence, left, reset, r[6], r[7]}
        end
        local fence, text = next_fence(KEYS[3], ARGV[6])
        redis.call('HSET', KEYS[1], 'state', 'inflight', 'fp', ARGV[1], 'owner', ARGV[2], 'fence', text,
          'amount', ARGV[7], 'cur', ARGV[8], 'created', string.format('%d', now_ms()))
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        return {'acquired', fence, left, reset}
        """)

    /// KEYS[1] idempotency record, KEYS[2] ledger, KEYS[3] charges list, KEYS[4] the
    /// user's unknown payments.
    /// ARGV[1] owner, ARGV[2] fence, ARGV[3] status, ARGV[4] body, ARGV[5] retention s,
    /// ARGV[6] currency, ARGV[7] amount minor, ARGV[8] payment id ('' for a final answer
    /// that charged nothing: a decline), ARGV[9] idempotency key, ARGV[10] the
    /// processor's charge id ('' when it gave none), ARGV[11] its member in the user's
    /// unknown payments.
    /// The record keeps `updated` (Redis ms) for a lookup by payment id; the id's index
    /// (`pay:pid:<id>`, another slot) was written before this script.
    /// Reply: 1 committed (record done and, with a payment id, ledger charged, together),
    /// 0 lease lost.
    public static let complete = RedisScript(name: "complete", clock + leaseFunction + """
        if not holds(KEYS[1], ARGV[1], ARGV[2]) then return 0 end
        redis.call('HSET', KEYS[1], 'state', 'done', 'status', ARGV[3], 'body', ARGV[4], 'updated', string.format('%d', now_ms()))
        redis.call('HDEL', KEYS[1], 'owner', 'until')
        redis.call('EXPIRE', KEYS[1], ARGV[5])
        redis.call('ZREM', KEYS[4], ARGV[11])
        if ARGV[8] ~= '' then
          redis.call('HINCRBY', KEYS[2], 'count', 1)
          redis.call('HINCRBY', KEYS[2], 'total:' .. ARGV[6], ARGV[7])
          -- The charge id after a tab: a key (printable ASCII) never holds one.
          local entry = ARGV[8] .. ' ' .. ARGV[7] .. ' ' .. ARGV[6] .. ' ' .. ARGV[9]
          if ARGV[10] ~= '' then entry = entry .. '\t' .. ARGV[10] end
          redis.call('RPUSH', KEYS[3], entry)
        end
        return 1
        """)

    /// KEYS[1] idempotency record, KEYS[2] the user's unknown payments.
    /// ARGV[1] owner, ARGV[2] fence, ARGV[3] retention s, ARGV[4] processor key,
    /// ARGV[5] payment id, ARGV[6] amount minor, ARGV[7] currency, ARGV[8] its member in
    /// the user's unknown payments, ARGV[9] reconciler attempts so far ('' leaves them).
    /// The attempt we hold may have charged: the record stays, with its fingerprint and
    /// what the reconciler needs to ask the processor, in the state 'unknown', its lease
    /// released, for the retention; the user's set lists it for `/ledger`. `updated`
    /// (Redis ms) is for a lookup by payment id, whose index was written before.
    /// Reply: 1 recorded, 0 not held by us (nothing changed: it may have completed).
    public static let markUnknown = RedisScript(name: "mark_unknown", clock + leaseFunction + """
        if not holds(KEYS[1], ARGV[1], ARGV[2]) then return 0 end
        local now = string.format('%d', now_ms())
        redis.call('HSET', KEYS[1], 'state', 'unknown', 'pk', ARGV[4], 'pid', ARGV[5], 'amount', ARGV[6], 'cur', ARGV[7], 'updated', now)
        redis.call('HSETNX', KEYS[1], 'since', now)
        if ARGV[9] ~= '' then redis.call('HSET', KEYS[1], 'attempts', ARGV[9]) end
        redis.call('HDEL', KEYS[1], 'owner', 'until')
        redis.call('EXPIRE', KEYS[1], ARGV[3])
        redis.call('ZADD', KEYS[2], 'NX', redis.call('HGET', KEYS[1], 'since'), ARGV[8])
        redis.call('EXPIRE', KEYS[2], ARGV[3])
        return 1
        """)

    /// KEYS[1] idempotency record, KEYS[2] the key's fence. ARGV[1] owner, ARGV[2] lease
    /// ms, ARGV[3] fence retention s.
    /// The reconciler takes an unknown record under its own lease and fence, like any
    /// attempt, so two replicas never work on one and a client's retry meanwhile gets 409.
    /// Replies: {'claimed', fence, fp, processor key, payment id, amount, currency,
    /// attempts} | {'busy', lease_left_ms} (an attempt holds it) | {'settled'} (done, or
    /// gone: nothing left to resolve).
    public static let claim = RedisScript(name: "claim", clock + fenceFunction + """
        local r = redis.call('HMGET', KEYS[1], 'state', 'fp', 'until', 'pk', 'pid', 'amount', 'cur', 'attempts')
        if r[1] ~= 'unknown' and r[1] ~= 'inflight' then return {'settled'} end
        if r[1] == 'inflight' then
          if not r[3] then return {'busy', math.max(redis.call('PTTL', KEYS[1]), 1)} end
          local lease_left = tonumber(r[3]) - now_ms()
          if lease_left > 0 then return {'busy', lease_left} end
        end
        if not r[4] then return {'settled'} end
        local fence, text = next_fence(KEYS[2], ARGV[3])
        redis.call('HSET', KEYS[1], 'state', 'inflight', 'owner', ARGV[1], 'fence', text, 'until', string.format('%d', now_ms() + tonumber(ARGV[2])))
        return {'claimed', fence, r[2], r[4], r[5], r[6], r[7], tonumber(r[8]) or 0}
        """)

    /// KEYS[1] idempotency record, KEYS[2] the user's unknown payments. ARGV[1] owner,
    /// ARGV[2] fence, ARGV[3] its member in the user's unknown payments.
    /// The processor holds no charge under the key: the record goes, so the client's next
    /// retry charges (with the same processor key).
    /// Reply: 1 released, 0 not held by us (nothing changed).
    public static let release = RedisScript(name: "release", clock + leaseFunction + """
        if not holds(KEYS[1], ARGV[1], ARGV[2]) then return 0 end
        redis.call('DEL', KEYS[1])
        redis.call('ZREM', KEYS[2], ARGV[3])
        return 1
        """)

    /// KEYS[1] idempotency record. Before a replay with replicas required: rewrites the
    /// record's remaining TTL, unchanged, so that this connection has written after the
    /// record did and the WAIT sent after this script covers the record itself (WAIT
    /// counts only the writes of its own connection).
    /// Reply: 1 the record is done, 0 it is not there (expired, or lost in a failover).
    public static let confirmReplay = RedisScript(name: "confirm_replay", """
        if redis.call('HGET', KEYS[1], 'state') ~= 'done' then return 0 end
        local ttl = redis.call('PTTL', KEYS[1])
        if ttl <= 0 then return 0 end
        redis.call('PEXPIRE', KEYS[1], ttl)
        return 1
        """)

    /// KEYS[1] idempotency record. ARGV[1] owner, ARGV[2] fence, or '' when the fence is
    /// unknown (a `begin` whose reply was lost): the owner token is random per attempt,
    /// so it alone names the record that attempt created.
    /// This attempt charged nothing: a fresh record is deleted, so a retry can run at
    /// once; a record that was unknown before (it has `since`) goes back to unknown, since
    /// an earlier attempt may still have charged.
    /// Reply: 1 released, 0 not held by us (nothing changed).
    public static let abort = RedisScript(name: "abort", clock + leaseFunction + """
        if ARGV[2] == '' then
          local r = redis.call('HMGET', KEYS[1], 'state', 'owner')
          if r[1] ~= 'inflight' or r[2] ~= ARGV[1] then return 0 end
        elseif not holds(KEYS[1], ARGV[1], ARGV[2]) then
          return 0
        end
        if redis.call('HEXISTS', KEYS[1], 'since') == 1 then
          redis.call('HSET', KEYS[1], 'state', 'unknown')
          redis.call('HDEL', KEYS[1], 'owner', 'until')
        else
          redis.call('DEL', KEYS[1])
        end
        return 1
        """)

    /// KEYS[1] idempotency record. ARGV[1] owner, ARGV[2] fence, ARGV[3] lease ms.
    /// Reply: 1 extended to ARGV[3] from now, 0 lease lost (nothing changed).
    public static let extend = RedisScript(name: "extend", clock + leaseFunction + """
        if not holds(KEYS[1], ARGV[1], ARGV[2]) then return 0 end
        if redis.call('HEXISTS', KEYS[1], 'until') == 1 then
          redis.call('HSET', KEYS[1], 'until', string.format('%d', now_ms() + tonumber(ARGV[3])))
        else
          redis.call('PEXPIRE', KEYS[1], ARGV[3])
        end
        return 1
        """)

    /// KEYS[1] bucket. ARGV[1] capacity, ARGV[2] refill per second.
    /// Reply: {allowed 1|0, tokens_left, retry_after_ms, reset_ms}.
    public static let tokenBucket = RedisScript(name: "token_bucket", clock + tokenBucketFunction + """
        return take_token(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), now_ms())
        """)

    public static let all = [begin, complete, abort, extend, tokenBucket, confirmReplay, markUnknown, claim, release]

    /// Loads every script that some node does not have yet (after a restart or a
    /// failover); in cluster mode on every master, since a key may live on any of them.
    /// Each master on its own: one that does not answer leaves the others loaded, and its
    /// outcome says so. Throws only when no node could be checked (a single node failed,
    /// or every master did).
    @discardableResult
    public static func ensureLoaded(_ all: [RedisScript] = all, on client: RedisClient) async throws(RedisClientError) -> [RedisNodeOutcome<Void>] {
        let outcomes = try await client.onEveryNode { node throws(RedisClientError) in try await ensureLoaded(all, on: node) }
        if !outcomes.contains(where: { if case .success = $0.result { true } else { false } }), let first = outcomes.first {
            try first.result.get()
        }
        return outcomes
    }

    /// Loads on one node the scripts it does not have: SCRIPT EXISTS, then SCRIPT LOAD of
    /// the missing ones only.
    public static func ensureLoaded(_ all: [RedisScript] = all, on node: RedisNodeConnection) async throws(RedisClientError) {
        let reply = try await node.send(RedisCommand("SCRIPT", ["EXISTS"] + all.map { .string($0.sha1) }))
        guard let flags = reply.array, flags.count == all.count else {
            throw RedisClientError(.protocol, "SCRIPT EXISTS answered \(reply)")
        }
        for (script, flag) in zip(all, flags) where flag != .integer(1) {
            guard try await node.send(RedisCommand("SCRIPT", "LOAD", .string(script.source))).string == script.sha1 else {
                throw RedisClientError(.protocol, "SCRIPT LOAD returned another SHA1 than the script's")
            }
        }
    }
}

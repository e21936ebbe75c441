import RedisClient

/// The scripts run on each Redlock node. A lock is one string key holding its owner's
/// random token, with the lease as its TTL; only that owner may extend or delete it.
public enum RedlockScripts {
    /// KEYS[1] lock. ARGV[1] owner, ARGV[2] ttl ms.
    /// Reply: 0 granted, else the current holder's remaining milliseconds (at least 1).
    public static let acquire = RedisScript(name: "lock_acquire", """
        if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
        return math.max(redis.call('PTTL', KEYS[1]), 1)
        """)

    /// KEYS[1] lock. ARGV[1] owner, ARGV[2] ttl ms. Reply: 1 extended, 0 not ours.
    public static let extend = RedisScript(name: "lock_extend", """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        return redis.call('PEXPIRE', KEYS[1], ARGV[2])
        """)

    /// KEYS[1] lock. ARGV[1] owner. Reply: 1 deleted, 0 not ours (nothing changed).
    public static let release = RedisScript(name: "lock_release", """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        return redis.call('DEL', KEYS[1])
        """)

    public static let all = [acquire, extend, release]
}

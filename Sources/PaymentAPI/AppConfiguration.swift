import Foundation
import PaymentCore
import PaymentProcessors
import PaymentRedis

/// Every setting of the server, read from the environment (or `--kebab-case` flags) by
/// `payment-api`'s main. Each invalid value fails start-up with one line that names
/// its variable.
public struct AppConfiguration: Sendable {
    public var httpHost = "0.0.0.0"
    public var httpPort = 8080
    /// `REDIS_*` and `REDLOCK_URLS`: the data store and, in Redlock mode, the lock nodes.
    public var redis: PaymentRedisConfiguration
    public var lockLease: Duration = .milliseconds(10_000)
    public var idempotencyTTL: Duration = .seconds(86_400)
    public var userRateLimit: RateLimitPolicy? = RateLimitPolicy(name: "user", capacity: 10, refillPerSecond: 10)
    public var globalRateLimit: RateLimitPolicy?
    /// `REDIS_WAIT_REPLICAS`: replicas that must acknowledge a payment before its 200; 0: the master alone.
    public var waitReplicas = 0
    /// `REDIS_WAIT_TIMEOUT_MS`: how long a payment waits for them before it answers 503 outcome unknown.
    public var waitTimeout: Duration = .milliseconds(1_000)
    /// `REDIS_WAIT_CONNECTIONS`: the connections per node that carry (commit, WAIT) pairs.
    public var waitConnections = 8
    /// `PROCESSOR_URL` and its settings; nil: the in-process simulated processor.
    public var processor: ProcessorConfiguration?
    /// `PROCESSOR_KEY_SECRET_FILE`: the HMAC key of payment ids and processor keys.
    public var identitySecret: PaymentIdentity.Secret = .unset
    /// `RECONCILE_DELAY_MS`, `RECONCILE_INTERVAL_MS`, `RECONCILE_MAX_ATTEMPTS`: when and how
    /// often the reconciler looks unknown outcomes up at the processor.
    public var reconcileDelay: Duration = .seconds(10)
    public var reconcileInterval: Duration = .seconds(5)
    public var reconcileMaxAttempts = 10
    /// Put in front of every Redis key (no variable: for tests, which share one Redis
    /// and must not share the reconciler's queue).
    public var keyPrefix = ""
    public var paymentFailureRate = 0.3
    public var paymentLatency: Duration = .zero
    public var maxBodyBytes = 16_384
    public var maxInflightRequests = 1_024
    public var shutdownDrain: Duration = .seconds(5)
    /// A connection that completes no request part for this long is closed: idle
    /// keep-alive connections, and slowloris clients that trickle a request head.
    public var httpIdleTimeout: Duration = .seconds(30)
    /// `API_KEYS_FILE` and the keys read from it at start; nil: authentication off.
    public var apiKeysFile: String?
    public var apiKeys: APIKeys?
    /// How often the key file is checked for changes.
    public var apiKeysReloadInterval: Duration = .seconds(2)
    /// `API_KEYS_STALE_SECONDS`: how long the last keys stay valid while the file cannot be read.
    public var apiKeysStaleAfter: Duration = .seconds(300)
    /// Off only for fault injection (`FAULT_INJECTION_NO_WATCHDOG=1`): proves that work
    /// outliving its lease cannot commit. Never in production.
    public var leaseWatchdog = true
    public var logLevel = "info"
    public var logFormat = LogFormat.json

    public enum LogFormat: String, Sendable {
        case json, text
    }

    /// Defaults only, with Redis on localhost; tests change what they need.
    public init(redis: PaymentRedisConfiguration) {
        self.redis = redis
    }

    /// Reads every variable through `lookup` (name → value, nil when unset).
    public init(lookup: @escaping (String) -> String?) throws(ConfigurationError) {
        let reader = VariableReader(lookup: lookup)
        let url = reader.string("REDIS_URL") ?? "redis://127.0.0.1:6379"
        let password = reader.string("REDIS_PASSWORD")
        let cluster: Bool
        switch reader.string("REDIS_MODE") ?? "standalone" {
        case "standalone": cluster = false
        case "cluster": cluster = true
        case let other:
            throw ConfigurationError(variable: "REDIS_MODE", message: "must be standalone or cluster, got \"\(other)\"")
        }
        let commandTimeout = Duration.milliseconds(try reader.integer("REDIS_TIMEOUT_MS", default: 500, in: 1...60_000))
        let tls = try reader.tls()
        let redis: PaymentRedisConfiguration
        do throws(RedisSettingError) {
            redis = try PaymentRedisConfiguration(
                url: url, password: password, cluster: cluster, commandTimeout: commandTimeout,
                caFile: tls.caFile, certificateFile: tls.certificateFile, keyFile: tls.keyFile
            )
        } catch {
            throw ConfigurationError(error)
        }
        self.init(redis: redis)

        httpHost = reader.string("HTTP_HOST") ?? httpHost
        httpPort = try reader.integer("HTTP_PORT", default: 8080, in: 0...65_535)

        if let file = reader.string("API_KEYS_FILE") {
            do {
                apiKeys = try APIKeyFile.read(file)
            } catch {
                throw ConfigurationError(variable: "API_KEYS_FILE", message: error.description)
            }
            apiKeysFile = file
        }
        apiKeysStaleAfter = .seconds(try reader.integer("API_KEYS_STALE_SECONDS", default: 300, in: 0...86_400))

        lockLease = .milliseconds(try reader.integer("LOCK_LEASE_MS", default: 10_000, in: 100...3_600_000))
        if let urls = reader.string("REDLOCK_URLS") {
            do throws(RedisSettingError) {
                try self.redis.addLockNodes(urls, password: password, timeout: min(redis.commandTimeout, lockLease / 10))
            } catch {
                throw ConfigurationError(error)
            }
        }
        idempotencyTTL = .seconds(try reader.integer("IDEMPOTENCY_TTL_SECONDS", default: 86_400, in: 1...31_536_000))
        userRateLimit = try reader.bucket(
            "RATE_LIMIT_CAPACITY", "RATE_LIMIT_REFILL_PER_SECOND", name: "user", defaultCapacity: 10, defaultRefill: 10
        )
        globalRateLimit = try reader.bucket(
            "GLOBAL_RATE_LIMIT_CAPACITY", "GLOBAL_RATE_LIMIT_REFILL_PER_SECOND", name: "global", defaultCapacity: 0, defaultRefill: 0
        )
        waitReplicas = try reader.integer("REDIS_WAIT_REPLICAS", default: 0, in: 0...64)
        waitTimeout = .milliseconds(try reader.integer("REDIS_WAIT_TIMEOUT_MS", default: 1_000, in: 1...60_000))
        waitConnections = try reader.integer("REDIS_WAIT_CONNECTIONS", default: 8, in: 1...256)
        if let url = reader.string("PROCESSOR_URL") {
            do throws(ProcessorURLError) {
                processor = try ProcessorConfiguration(url: url)
            } catch {
                throw ConfigurationError(variable: "PROCESSOR_URL", message: error.message)
            }
            processor?.timeout = .milliseconds(try reader.integer("PROCESSOR_TIMEOUT_MS", default: 2_000, in: 1...600_000))
            processor?.maxConnections = try reader.integer("PROCESSOR_MAX_CONNECTIONS", default: 64, in: 1...4_096)
            processor?.tokenFile = try reader.readableFile("PROCESSOR_TOKEN_FILE")
            processor?.caFile = try reader.readableFile("PROCESSOR_TLS_CA_FILE")
        } else {
            for name in ["PROCESSOR_TIMEOUT_MS", "PROCESSOR_MAX_CONNECTIONS", "PROCESSOR_TOKEN_FILE", "PROCESSOR_TLS_CA_FILE"]
            where reader.string(name) != nil {
                throw ConfigurationError(variable: name, message: "has no effect without PROCESSOR_URL")
            }
        }
        let keyVersion = try reader.integer("PROCESSOR_KEY_VERSION", default: 1, in: 1...9_999)
        if let path = try reader.readableFile("PROCESSOR_KEY_SECRET_FILE") {
            let bytes = Array(FileManager.default.contents(atPath: path) ?? Data())
            guard bytes.count >= 16 else {
                throw ConfigurationError(variable: "PROCESSOR_KEY_SECRET_FILE", message: "must hold at least 16 bytes, has \(bytes.count)")
            }
            identitySecret = PaymentIdentity.Secret(bytes: bytes, version: keyVersion)
        } else if processor != nil {
            // The fixed public label would give two deployments on one processor account
            // the same keys: one's payment would replay as the other's charge.
            throw ConfigurationError(
                variable: "PROCESSOR_KEY_SECRET_FILE", message: "is required with PROCESSOR_URL: processor keys need a secret of their own"
            )
        } else if keyVersion != 1 {
            throw ConfigurationError(variable: "PROCESSOR_KEY_VERSION", message: "has no effect without PROCESSOR_KEY_SECRET_FILE")
        }
        reconcileDelay = .milliseconds(try reader.integer("RECONCILE_DELAY_MS", default: 10_000, in: 1_000...3_600_000))
        reconcileInterval = .milliseconds(try reader.integer("RECONCILE_INTERVAL_MS", default: 5_000, in: 100...600_000))
        reconcileMaxAttempts = try reader.integer("RECONCILE_MAX_ATTEMPTS", default: 10, in: 1...1_000)
        paymentFailureRate = try reader.probability("PAYMENT_FAILURE_RATE", default: 0.3)
        paymentLatency = .milliseconds(try reader.integer("PAYMENT_LATENCY_MS", default: 0, in: 0...600_000))
        maxBodyBytes = try reader.integer("MAX_BODY_BYTES", default: 16_384, in: 64...10_485_760)
        maxInflightRequests = try reader.integer("MAX_INFLIGHT_REQUESTS", default: 1_024, in: 1...1_000_000)
        shutdownDrain = .seconds(try reader.integer("SHUTDOWN_DRAIN_SECONDS", default: 5, in: 0...600))
        httpIdleTimeout = .seconds(try reader.integer("HTTP_IDLE_TIMEOUT_SECONDS", default: 30, in: 1...3_600))

        switch reader.string("FAULT_INJECTION_NO_WATCHDOG") {
        case nil, "0", "false": leaseWatchdog = true
        case "1", "true": leaseWatchdog = false
        case let other?:
            throw ConfigurationError(variable: "FAULT_INJECTION_NO_WATCHDOG", message: "must be 1 or 0, got \"\(other)\"")
        }

        logLevel = reader.string("LOG_LEVEL") ?? "info"
        guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(logLevel) else {
            throw ConfigurationError(variable: "LOG_LEVEL", message: "must be one of trace, debug, info, notice, warning, error, critical, got \"\(logLevel)\"")
        }
        let format = reader.string("LOG_FORMAT") ?? "json"
        guard let logFormat = LogFormat(rawValue: format) else {
            throw ConfigurationError(variable: "LOG_FORMAT", message: "must be json or text, got \"\(format)\"")
        }
        self.logFormat = logFormat
    }
}

/// One invalid setting: `description` is the single line printed at start-up.
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    public let variable: String
    public let message: String

    public var description: String { "invalid configuration: \(variable) \(message)" }

    init(variable: String, message: String) {
        self.variable = variable
        self.message = message
    }

    init(_ error: RedisSettingError) {
        self.init(variable: error.setting, message: error.message)
    }
}

/// Reads and checks single variables; every error names its variable.
private struct VariableReader {
    let lookup: (String) -> String?

    func string(_ name: String) -> String? {
        guard let value = lookup(name), !value.isEmpty else { return nil }
        return value
    }

    func integer(_ name: String, default defaultValue: Int, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let text = string(name) else { return defaultValue }
        guard let value = Int(text), range.contains(value) else {
            throw ConfigurationError(variable: name, message: "must be an integer from \(range.lowerBound) to \(range.upperBound), got \"\(text)\"")
        }
        return value
    }

    func probability(_ name: String, default defaultValue: Double) throws(ConfigurationError) -> Double {
        guard let text = string(name) else { return defaultValue }
        guard let value = Double(text), value.isFinite, (0...1).contains(value) else {
            throw ConfigurationError(variable: name, message: "must be a number from 0 to 1, got \"\(text)\"")
        }
        return value
    }

    /// A file that must be readable now, so that a wrong mount fails the start rather
    /// than every request.
    func readableFile(_ name: String) throws(ConfigurationError) -> String? {
        guard let path = string(name) else { return nil }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ConfigurationError(variable: name, message: "names a file that cannot be read: \"\(path)\"")
        }
        return path
    }

    /// `REDIS_TLS_CA_FILE`, `REDIS_TLS_CERT_FILE`, `REDIS_TLS_KEY_FILE`.
    func tls() throws(ConfigurationError) -> (caFile: String?, certificateFile: String?, keyFile: String?) {
        let tls = (
            caFile: try readableFile("REDIS_TLS_CA_FILE"), certificateFile: try readableFile("REDIS_TLS_CERT_FILE"),
            keyFile: try readableFile("REDIS_TLS_KEY_FILE")
        )
        guard (tls.certificateFile == nil) == (tls.keyFile == nil) else {
            throw ConfigurationError(variable: "REDIS_TLS_KEY_FILE", message: "and REDIS_TLS_CERT_FILE must be set together")
        }
        return tls
    }

    /// A token bucket from a capacity and a refill rate; a capacity of 0 disables it.
    func bucket(_ capacityName: String, _ refillName: String, name: String, defaultCapacity: Int, defaultRefill: Int) throws(ConfigurationError) -> RateLimitPolicy? {
        let capacity = try integer(capacityName, default: defaultCapacity, in: 0...1_000_000)
        let refill = try integer(refillName, default: defaultRefill, in: 0...1_000_000)
        guard capacity > 0 else { return nil }
        guard refill > 0 else {
            throw ConfigurationError(variable: refillName, message: "must be at least 1 when \(capacityName) is above 0")
        }
        return RateLimitPolicy(name: name, capacity: capacity, refillPerSecond: refill)
    }
}

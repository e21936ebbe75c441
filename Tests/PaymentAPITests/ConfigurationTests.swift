import Foundation
import PaymentAPI
import PaymentCore
import PaymentRedis
import RedisClient
import Testing

@Suite("configuration from the environment")
struct ConfigurationTests {
    private func configuration(_ environment: [String: String]) throws(ConfigurationError) -> AppConfiguration {
        try AppConfiguration { environment[$0] }
    }

    @Test func defaultsMatchTheDesign() throws {
        let configuration = try configuration([:])
        #expect(configuration.httpHost == "0.0.0.0")
        #expect(configuration.httpPort == 8080)
        #expect(configuration.redis.store.url.description == "redis://127.0.0.1:6379")
        #expect(configuration.redis.store.commandTimeout == .milliseconds(500))
        #expect(configuration.lockLease == .milliseconds(10_000))
        #expect(configuration.idempotencyTTL == .seconds(86_400))
        #expect(configuration.userRateLimit?.capacity == 10)
        #expect(configuration.userRateLimit?.refillPerSecond == 10)
        #expect(configuration.globalRateLimit == nil)
        #expect(configuration.paymentFailureRate == 0.3)
        #expect(configuration.maxBodyBytes == 16_384)
        #expect(configuration.maxInflightRequests == 1_024)
        #expect(configuration.shutdownDrain == .seconds(5))
    }

    @Test func valuesAreRead() throws {
        let configuration = try configuration([
            "HTTP_PORT": "9000", "REDIS_URL": "redis://:urlpass@cache:6380/2", "REDIS_PASSWORD": "secretpass",
            "RATE_LIMIT_CAPACITY": "0", "GLOBAL_RATE_LIMIT_CAPACITY": "100", "GLOBAL_RATE_LIMIT_REFILL_PER_SECOND": "50",
            "PAYMENT_FAILURE_RATE": "0", "LOG_FORMAT": "text",
        ])
        #expect(configuration.httpPort == 9000)
        #expect(configuration.redis.store.url.password == "secretpass")
        #expect(configuration.redis.store.url.database == 2)
        #expect(configuration.userRateLimit == nil)
        #expect(configuration.globalRateLimit?.capacity == 100)
        #expect(configuration.paymentFailureRate == 0)
        #expect(configuration.logFormat == .text)
    }

    @Test func clusterModeTakesCommaSeparatedSeeds() throws {
        let configuration = try configuration(["REDIS_MODE": "cluster", "REDIS_URL": "redis://a:7000,redis://b:7001", "REDIS_PASSWORD": "pw"])
        #expect(configuration.redis.store.clusterSeeds?.map(\.description) == ["redis://:***@a:7000", "redis://:***@b:7001"])
        let error = #expect(throws: ConfigurationError.self) {
            try self.configuration(["REDIS_MODE": "cluster", "REDIS_URL": "redis://a:7000,ftp://b"])
        }
        #expect(error?.variable == "REDIS_URL")
    }

    @Test func redlockTakesAnOddNumberOfIndependentNodesWithATimeoutFarBelowTheLease() throws {
        let configuration = try configuration([
            "REDLOCK_URLS": "redis://a:1, redis://b:2,redis://c:3", "REDIS_PASSWORD": "pw",
            "REDIS_TIMEOUT_MS": "500", "LOCK_LEASE_MS": "1000",
        ])
        #expect(configuration.redis.lockNodes.map(\.url.description) == ["redis://:***@a:1", "redis://:***@b:2", "redis://:***@c:3"])
        #expect(configuration.redis.lockNodes.allSatisfy { $0.commandTimeout == .milliseconds(100) })
        #expect(try self.configuration(["REDLOCK_URLS": "redis://a,redis://b,redis://c"]).redis.lockNodes.allSatisfy {
            $0.commandTimeout == .milliseconds(500)
        })
        #expect(try self.configuration([:]).redis.lockNodes.isEmpty)
    }

    @Test(arguments: [
        ("redis://a,redis://b", "invalid configuration: REDLOCK_URLS needs an odd number of nodes, at least 3, for a majority; got 2"),
        ("redis://a,redis://b,redis://c,redis://d", "invalid configuration: REDLOCK_URLS needs an odd number of nodes, at least 3, for a majority; got 4"),
        ("redis://a,redis://b,redis://a:6379", "invalid configuration: REDLOCK_URLS names a node twice; the nodes must be independent"),
        ("redis://a,redis://:secret@b:0,redis://c", "invalid configuration: REDLOCK_URLS node 2: port must be a number from 1 to 65535"),
        ("redis://a,,redis://c", "invalid configuration: REDLOCK_URLS node 2: must start with redis:// or rediss://"),
    ])
    func invalidRedlockNodesAreRefused(urls: String, message: String) {
        let error = #expect(throws: ConfigurationError.self) { try configuration(["REDLOCK_URLS": urls]) }
        #expect(error?.description == message)
    }

    @Test(arguments: [
        ("HTTP_PORT", "eighty", "invalid configuration: HTTP_PORT must be an integer from 0 to 65535, got \"eighty\""),
        ("REDIS_URL", "http://x", "invalid configuration: REDIS_URL must start with redis:// or rediss://"),
        ("REDIS_TIMEOUT_MS", "0", "invalid configuration: REDIS_TIMEOUT_MS must be an integer from 1 to 60000, got \"0\""),
        ("PAYMENT_FAILURE_RATE", "1.5", "invalid configuration: PAYMENT_FAILURE_RATE must be a number from 0 to 1, got \"1.5\""),
        ("PAYMENT_FAILURE_RATE", "nan", "invalid configuration: PAYMENT_FAILURE_RATE must be a number from 0 to 1, got \"nan\""),
        ("RATE_LIMIT_REFILL_PER_SECOND", "0", "invalid configuration: RATE_LIMIT_REFILL_PER_SECOND must be at least 1 when RATE_LIMIT_CAPACITY is above 0"),
        ("REDIS_MODE", "sentinel", "invalid configuration: REDIS_MODE must be standalone or cluster, got \"sentinel\""),
        ("LOG_FORMAT", "xml", "invalid configuration: LOG_FORMAT must be json or text, got \"xml\""),
        ("LOG_LEVEL", "loud", "invalid configuration: LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical, got \"loud\""),
        ("MAX_BODY_BYTES", "-1", "invalid configuration: MAX_BODY_BYTES must be an integer from 64 to 10485760, got \"-1\""),
        ("RECONCILE_DELAY_MS", "999", "invalid configuration: RECONCILE_DELAY_MS must be an integer from 1000 to 3600000, got \"999\""),
        ("RECONCILE_INTERVAL_MS", "soon", "invalid configuration: RECONCILE_INTERVAL_MS must be an integer from 100 to 600000, got \"soon\""),
        ("RECONCILE_MAX_ATTEMPTS", "0", "invalid configuration: RECONCILE_MAX_ATTEMPTS must be an integer from 1 to 1000, got \"0\""),
        ("PROCESSOR_KEY_VERSION", "0", "invalid configuration: PROCESSOR_KEY_VERSION must be an integer from 1 to 9999, got \"0\""),
        ("PROCESSOR_KEY_VERSION", "2", "invalid configuration: PROCESSOR_KEY_VERSION has no effect without PROCESSOR_KEY_SECRET_FILE"),
    ])
    func invalidValuesNameTheirVariable(variable: String, value: String, message: String) {
        let error = #expect(throws: ConfigurationError.self) { try configuration([variable: value]) }
        #expect(error?.variable == variable)
        #expect(error?.description == message)
    }

    @Test func aProcessorURLWithoutAKeySecretIsRefused() {
        // Without it every deployment would share the public label's keys.
        let error = #expect(throws: ConfigurationError.self) { try configuration(["PROCESSOR_URL": "http://processor:9090"]) }
        #expect(error?.description
            == "invalid configuration: PROCESSOR_KEY_SECRET_FILE is required with PROCESSOR_URL: processor keys need a secret of their own")
    }

    @Test func theReconcilerAndTheProcessorKeyAreConfigured() throws {
        let defaults = try configuration([:])
        #expect(defaults.reconcileDelay == .seconds(10))
        #expect(defaults.reconcileInterval == .seconds(5))
        #expect(defaults.reconcileMaxAttempts == 10)
        let secret = FileManager.default.temporaryDirectory.appendingPathComponent("secret-\(UInt32.random(in: 0...UInt32.max))").path
        try Data(repeating: 7, count: 32).write(to: URL(fileURLWithPath: secret))
        defer { try? FileManager.default.removeItem(atPath: secret) }
        let set = try configuration([
            "PROCESSOR_URL": "http://processor:9090", "PROCESSOR_KEY_SECRET_FILE": secret, "PROCESSOR_KEY_VERSION": "3",
            "RECONCILE_DELAY_MS": "2000", "RECONCILE_INTERVAL_MS": "250", "RECONCILE_MAX_ATTEMPTS": "4",
        ])
        #expect(set.identitySecret.version == 3)
        #expect(set.reconcileDelay == .seconds(2))
        #expect(set.reconcileInterval == .milliseconds(250))
        #expect(set.reconcileMaxAttempts == 4)
    }

    @Test func tlsFilesMustBeReadableAndTheClientPairComplete() {
        let missing = #expect(throws: ConfigurationError.self) { try configuration(["REDIS_TLS_CA_FILE": "/nonexistent/ca.crt"]) }
        #expect(missing?.description == #"invalid configuration: REDIS_TLS_CA_FILE names a file that cannot be read: "/nonexistent/ca.crt""#)
        let half = #expect(throws: ConfigurationError.self) { try configuration(["REDIS_TLS_CERT_FILE": "/etc/hostname"]) }
        #expect(half?.variable == "REDIS_TLS_KEY_FILE")
    }

    @Test func passwordsNeverAppearInErrors() {
        let error = #expect(throws: ConfigurationError.self) { try configuration(["REDIS_URL": "redis://:hunter2@h:99999"]) }
        #expect(error?.description.contains("hunter2") == false)
    }
}

import Logging
import RedisClient
import RedisTestSupport
import Testing

/// `rediss://` against a real redis-server listening with `--tls-port` and requiring
/// client certificates, with certificates the suite makes with openssl.
@Suite("TLS to Redis")
struct RedisTLSTests {
    /// Starts a TLS redis-server (client certificates required) and runs `body` with its TLS port.
    private func withTLSServer(_ body: (TestCertificates, Int) async throws -> Void) async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let (server, tlsPort) = try await RedisServer.startTLS(certificates: certificates)
        defer { server.stop() }
        try await body(certificates, tlsPort)
    }

    private func client(_ url: String, _ tls: RedisTLSConfiguration) throws -> RedisClient {
        var configuration = try RedisClientConfiguration(url: url)
        configuration.tls = tls
        configuration.commandTimeout = .seconds(2)
        configuration.connectionsPerNode = 1
        var logger = Logger(label: "redis-tls-test")
        logger.logLevel = .critical
        return try RedisClient(configuration: configuration, logger: logger)
    }

    @Test func commandsRunOverTLSWithAClientCertificate() async throws {
        try await withTLSServer { certificates, port async throws in
            let tls = RedisTLSConfiguration(
                caFile: certificates.caFile, certificateFile: certificates.clientCertificateFile, keyFile: certificates.clientKeyFile
            )
            // By IP (checked against the certificate's IP SAN) and by name (SNI + DNS SAN).
            for url in ["rediss://127.0.0.1:\(port)", "rediss://localhost:\(port)"] {
                try await withClient(try client(url, tls)) { redis async throws in
                    try await redis.ping()
                    _ = try await redis.send("SET", "tls-key", "over tls")
                    #expect(try await redis.send("GET", "tls-key").string == "over tls")
                    // Many concurrent commands share the one TLS connection, each with its own reply.
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for index in 0..<500 {
                            group.addTask { () async throws in
                                #expect(try await redis.send("ECHO", .string("m\(index)")).string == "m\(index)")
                            }
                        }
                        try await group.waitForAll()
                    }
                }
            }
        }
    }

    @Test func aServerCertificateFromAnotherCAIsRefused() async throws {
        try await withTLSServer { certificates, port async throws in
            let tls = RedisTLSConfiguration(
                caFile: certificates.otherCAFile, certificateFile: certificates.clientCertificateFile, keyFile: certificates.clientKeyFile
            )
            try await withClient(try client("rediss://127.0.0.1:\(port)", tls)) { redis async throws in
                let error = await #expect(throws: RedisClientError.self) { try await redis.ping() }
                #expect(error?.kind == .connection)
                #expect(error?.message.contains("handshake") == true || error?.message.contains("certificate") == true,
                        "\(String(describing: error))")
            }
        }
    }

    @Test func withoutAClientCertificateTheServerRefuses() async throws {
        try await withTLSServer { certificates, port async throws in
            try await withClient(try client("rediss://127.0.0.1:\(port)", RedisTLSConfiguration(caFile: certificates.caFile))) {
                redis async throws in
                await #expect(throws: RedisClientError.self) { try await redis.ping() }
            }
        }
    }

    @Test func aCertificateWithoutItsKeyIsAConfigurationError() throws {
        let error = #expect(throws: RedisClientError.self) {
            try client("rediss://127.0.0.1:1", RedisTLSConfiguration(certificateFile: "/tmp/c.crt"))
        }
        #expect(error?.message.contains("both its certificate file and its key file") == true)
    }

    @Test func mixedTLSAndPlainSeedsAreRefused() throws {
        let configuration = try RedisClientConfiguration(url: "rediss://a:1,redis://b:2", cluster: true)
        let error = #expect(throws: RedisClientError.self) {
            try RedisClient(configuration: configuration, logger: Logger(label: "test"))
        }
        #expect(error?.message.contains("all nodes must use TLS or none") == true)
    }
}

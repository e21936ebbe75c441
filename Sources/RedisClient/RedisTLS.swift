import NIOCore
import NIOSSL

/// TLS to Redis (`rediss://` URLs), through swift-nio-ssl. The server's certificate is
/// always verified: against `caFile` when set, else the system's trust roots; and its
/// name against the URL's host (a DNS name, or an IP address in the certificate's SAN).
public struct RedisTLSConfiguration: Sendable, Hashable {
    /// PEM file of the certificate authorities to trust (`REDIS_TLS_CA_FILE`).
    public var caFile: String?
    /// PEM client certificate chain and key, for servers with `tls-auth-clients yes`
    /// (`REDIS_TLS_CERT_FILE`, `REDIS_TLS_KEY_FILE`); both or neither.
    public var certificateFile: String?
    public var keyFile: String?

    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    /// One context per client: loading certificates is slow, handshakes share it.
    func makeContext() throws(RedisClientError) -> NIOSSLContext {
        guard (certificateFile == nil) == (keyFile == nil) else {
            throw RedisClientError(.connection, "a TLS client certificate needs both its certificate file and its key file")
        }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        do {
            if let caFile {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            }
            if let certificateFile, let keyFile {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
            }
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw RedisClientError(.connection, "TLS setup failed (CA \(caFile ?? "system"), certificate \(certificateFile ?? "none")): \(error)")
        }
    }
}

extension RedisURL {
    /// The name to send in SNI and to verify: nil for an IP address, which is verified
    /// against the certificate's IP SAN instead (SNI cannot carry an address).
    var tlsServerName: String? {
        (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
    }
}
